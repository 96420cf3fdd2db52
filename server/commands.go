package server

// commandTable returns the RESP commands the server serves, by lower-case
// name. Each Server builds its own (no package-level table).
func commandTable() map[string]*command {
	list := []*command{
		{name: "ping", arity: -1, flags: []string{"fast"}, run: (*Server).cmdPing},
		{name: "echo", arity: 2, flags: []string{"fast"}, run: (*Server).cmdEcho},
		{name: "quit", arity: -1, flags: []string{"fast"}, run: (*Server).cmdQuit},
		{name: "auth", arity: -2, flags: []string{"fast", "no-auth"}, run: (*Server).cmdAuth},
		{name: "hello", arity: -1, flags: []string{"fast", "no-auth"}, run: (*Server).cmdHello},
		{name: "select", arity: 2, flags: []string{"fast"}, run: (*Server).cmdSelect},
		{name: "command", arity: -1, flags: []string{"loading", "stale"}, run: (*Server).cmdCommand},
		{name: "client", arity: -2, flags: []string{"loading", "stale"}, run: (*Server).cmdClient},
		{name: "config", arity: -2, flags: []string{"admin"}, run: (*Server).cmdConfig},
		{name: "info", arity: -1, flags: []string{"loading", "stale"}, run: (*Server).cmdInfo},
		{name: "dbsize", arity: 1, flags: []string{"readonly"}, run: (*Server).cmdDBSize},
		{name: "get", arity: 2, flags: []string{"readonly", "fast"}, firstKey: 1, lastKey: 1, step: 1, run: (*Server).cmdGet},
		{name: "set", arity: -3, flags: []string{"write"}, firstKey: 1, lastKey: 1, step: 1, run: (*Server).cmdSet},
		{name: "del", arity: -2, flags: []string{"write"}, firstKey: 1, lastKey: -1, step: 1, run: (*Server).cmdDel},
		{name: "exists", arity: -2, flags: []string{"readonly", "fast"}, firstKey: 1, lastKey: -1, step: 1, run: (*Server).cmdExists},
		{name: "mget", arity: -2, flags: []string{"readonly", "fast"}, firstKey: 1, lastKey: -1, step: 1, run: (*Server).cmdMGet},
		{name: "mset", arity: -3, flags: []string{"write"}, firstKey: 1, lastKey: -1, step: 2, run: (*Server).cmdMSet},
		{name: "incr", arity: 2, flags: []string{"write", "fast"}, firstKey: 1, lastKey: 1, step: 1, run: (*Server).cmdIncr},
		{name: "decr", arity: 2, flags: []string{"write", "fast"}, firstKey: 1, lastKey: 1, step: 1, run: (*Server).cmdDecr},
		{name: "incrby", arity: 3, flags: []string{"write", "fast"}, firstKey: 1, lastKey: 1, step: 1, run: (*Server).cmdIncrBy},
		{name: "decrby", arity: 3, flags: []string{"write", "fast"}, firstKey: 1, lastKey: 1, step: 1, run: (*Server).cmdDecrBy},
		{name: "scan", arity: -2, flags: []string{"readonly"}, run: (*Server).cmdScan},
	}
	t := make(map[string]*command, len(list))
	for _, c := range list {
		t[c.name] = c
	}
	return t
}
