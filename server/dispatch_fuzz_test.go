package server

import (
	"bytes"
	"fmt"
	"testing"
)

// replyRecorder checks that a command writes exactly one well-formed
// RESP reply: an array announces how many values follow, and they must
// all follow.
type replyRecorder struct {
	// pending counts the values still owed, innermost array last; a
	// top-level reply is complete when the stack is empty after it.
	pending  []int
	complete int
	err      error
}

func (r *replyRecorder) value() {
	if r.complete > 0 && len(r.pending) == 0 {
		r.err = fmt.Errorf("a second top-level reply")
	}
	for len(r.pending) > 0 {
		r.pending[len(r.pending)-1]--
		if r.pending[len(r.pending)-1] > 0 {
			return
		}
		r.pending = r.pending[:len(r.pending)-1]
	}
	r.complete++
}

func (r *replyRecorder) WriteError(msg string) {
	if bytes.ContainsAny([]byte(msg), "\r\n") {
		r.err = fmt.Errorf("error reply with a line break: %q", msg)
	}
	r.value()
}
func (r *replyRecorder) WriteString(str string)      { r.value() }
func (r *replyRecorder) WriteBulk(bulk []byte)       { r.value() }
func (r *replyRecorder) WriteBulkString(bulk string) { r.value() }
func (r *replyRecorder) WriteInt(num int)            { r.value() }
func (r *replyRecorder) WriteInt64(num int64)        { r.value() }
func (r *replyRecorder) WriteNull()                  { r.value() }
func (r *replyRecorder) WriteArray(count int) {
	if count < 0 {
		r.err = fmt.Errorf("negative array length %d", count)
	}
	if count <= 0 {
		r.value()
		return
	}
	if r.complete > 0 && len(r.pending) == 0 {
		r.err = fmt.Errorf("a second top-level reply")
	}
	r.pending = append(r.pending, count)
}

// FuzzDispatch feeds random argument vectors (NUL-separated in the fuzz
// input) to the command dispatcher of a server over a real store: every
// input must end in exactly one well-formed reply and never a panic.
func FuzzDispatch(f *testing.F) {
	for _, seed := range []string{
		"PING", "ECHO\x00hi", "SET\x00k0001\x00v", "SET\x00k\x00v\x00NX\x00GET", "SET\x00k\x00v\x00XX",
		"SET\x00k\x00v\x00EX\x0010", "GET\x00k0001", "DEL\x00a\x00b", "EXISTS\x00a", "MGET\x00a\x00k9000",
		"MSET\x00a\x001\x00k9000\x002", "MSET\x00a", "INCR\x00n", "INCRBY\x00n\x00-5", "DECRBY\x00n\x00x",
		"SCAN\x000\x00MATCH\x00k[0-9]*\x00COUNT\x002", "SCAN\x00999", "SCAN\x000\x00MATCH\x00[", "DBSIZE",
		"INFO", "INFO\x00stats", "COMMAND", "COMMAND\x00DOCS", "COMMAND\x00INFO\x00get\x00nosuch",
		"CLIENT\x00SETNAME\x00x", "CLIENT\x00GETNAME", "HELLO\x002\x00SETNAME\x00x", "HELLO\x003",
		"AUTH\x00x", "SELECT\x000", "CONFIG\x00GET\x00save", "QUIT", "nosuch\x00\r\n", "",
	} {
		f.Add([]byte(seed))
	}
	n := openSingle(f, nil)
	f.Fuzz(func(t *testing.T, in []byte) {
		args := bytes.Split(in, []byte{0})
		if len(args) > 32 {
			args = args[:32]
		}
		var r replyRecorder
		n.Server.dispatch(&connState{authed: true}, &r, args)
		if r.err != nil {
			t.Fatalf("%q: %v", args, r.err)
		}
		if r.complete != 1 || len(r.pending) != 0 {
			t.Fatalf("%q: %d complete replies, %v values still owed", args, r.complete, r.pending)
		}
	})
}

func TestGlobMatch(t *testing.T) {
	for _, c := range []struct {
		p, s string
		want bool
	}{
		{"*", "", true}, {"*", "abc", true}, {"a*c", "abbbc", true}, {"a*c", "abcd", false},
		{"a?c", "abc", true}, {"a?c", "ac", false}, {"[abc]x", "bx", true}, {"[^abc]x", "bx", false},
		{"[a-c]*", "cz", true}, {"[c-a]*", "b", true}, {"\\*", "*", true}, {"\\*", "a", false},
		{"user:*:name", "user:42:name", true}, {"[", "[", false}, {"a[", "a", false}, {"*a*b*", "xxaxxbxx", true},
	} {
		if got := globMatch([]byte(c.p), []byte(c.s)); got != c.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", c.p, c.s, got, c.want)
		}
	}
	if p := string(globPrefix([]byte("us\\*er:*"))); p != "us*er:" {
		t.Errorf("globPrefix = %q", p)
	}
}
