package shard

// OpKind is one kind of write in a Command.
type OpKind uint8

const (
	// OpPut sets Key to Value.
	OpPut OpKind = iota + 1
	// OpDelete removes Key (absent keys are fine).
	OpDelete
	// OpIncr adds the signed decimal integer in Value to the decimal
	// integer stored at Key (absent counts as 0) and stores the sum; the
	// sum is returned in Result.Values. A stored value that is not an
	// integer, or an overflow, fails the whole command with
	// StatusNotInteger / StatusOverflow.
	OpIncr
)

// Op is one write of a Command.
type Op struct {
	Kind  OpKind
	Key   []byte
	Value []byte
}

// Cond is a precondition of a Command: Key must hold exactly Value
// (Exists) or be absent (!Exists).
type Cond struct {
	Key    []byte
	Value  []byte
	Exists bool
}

// Command is what a proposal carries for the key-value state machine: its
// Ops apply atomically, within one shard, only if every Cond holds.
// ReturnPrev asks for each Op key's value before the command (as SET ...
// GET needs).
type Command struct {
	Conds      []Cond
	Ops        []Op
	ReturnPrev bool
}

// Status says how a Command ended.
type Status uint8

const (
	// StatusOK: every Op applied.
	StatusOK Status = iota
	// StatusCondFailed: Conds[FailedCond] did not hold; nothing applied.
	StatusCondFailed
	// StatusNotInteger: an OpIncr found a non-integer; nothing applied.
	StatusNotInteger
	// StatusOverflow: an OpIncr overflowed int64; nothing applied.
	StatusOverflow
	// StatusBadCommand: the command did not decode; nothing applied.
	StatusBadCommand
	// StatusWrongShard: a key lies outside the shard's range (the shard
	// split or moved after the request was routed); nothing applied.
	StatusWrongShard
)

// Result is the outcome of a Command, identical on every replica.
type Result struct {
	Status Status
	// FailedCond indexes the Cond that failed, with the key's current
	// value (CurrentExists false if absent).
	FailedCond    int
	Current       []byte
	CurrentExists bool
	// Values holds, per Op, the new value of an OpIncr (nil for others).
	Values [][]byte
	// Prev holds, per Op, the value before the command when ReturnPrev
	// was set (nil entries for absent keys, with PrevExists false).
	Prev       [][]byte
	PrevExists []bool
}
