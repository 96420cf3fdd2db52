package server

import (
	"context"
	"strings"

	"github.com/tidwall/redcon"
)

// replier is the part of a RESP connection a command writes its answer
// to. redcon.Conn implements it; the fuzz target and tests record it.
type replier interface {
	WriteError(msg string)
	WriteString(str string)
	WriteBulk(bulk []byte)
	WriteBulkString(bulk string)
	WriteInt(num int)
	WriteInt64(num int64)
	WriteArray(count int)
	WriteNull()
}

// connState is a RESP connection's own state.
type connState struct {
	authed bool
	name   string
	// quit is set by QUIT: the connection closes after the reply.
	quit bool
}

// command is one RESP command the server knows.
type command struct {
	name string
	// arity follows Redis: n > 0 means exactly n arguments (the name
	// included), n < 0 at least -n.
	arity int
	// flags are reported by COMMAND ("readonly", "write", "fast", ...).
	flags []string
	// firstKey, lastKey and step locate the keys among the arguments, as
	// COMMAND reports them (0: no keys; lastKey -1: to the end).
	firstKey, lastKey, step int
	run                     func(s *Server, cs *connState, w replier, args [][]byte)
}

func (c *command) arityOK(n int) bool {
	if c.arity >= 0 {
		return n == c.arity
	}
	return n >= -c.arity
}

// accept admits a new RESP connection unless the server is closing or
// MaxClients connections are open.
func (s *Server) accept(conn redcon.Conn) bool {
	if s.closed() {
		return false
	}
	if s.m.connections.Load() >= int64(s.opts.MaxClients) {
		s.m.errors.Add(1)
		conn.WriteError("ERR max number of clients reached")
		return false // redcon flushes the error and closes
	}
	s.conns.Add(1)
	s.m.connections.Add(1)
	s.m.connectionsTotal.Add(1)
	conn.SetContext(&connState{authed: s.opts.Password == ""})
	return true
}

func (s *Server) connClosed(conn redcon.Conn, err error) {
	if err != nil && !s.closed() {
		s.opts.Logger.Debug("server: RESP connection closed", "remote", conn.RemoteAddr(), "err", err)
	}
	s.m.connections.Add(-1)
	s.conns.Done()
}

// serveCommand is redcon's handler: it runs one command of a connection's
// pipeline (redcon calls it once per command, in order, and flushes the
// replies of a pipeline together).
func (s *Server) serveCommand(conn redcon.Conn, cmd redcon.Command) {
	cs, _ := conn.Context().(*connState)
	if cs == nil {
		cs = &connState{authed: s.opts.Password == ""}
		conn.SetContext(cs)
	}
	s.dispatch(cs, conn, cmd.Args)
	if cs.quit {
		_ = conn.Close()
	}
}

// dispatch runs one command given as its argument vector. It is the
// gateway for client input: anything the client sends ends in a reply,
// never a panic.
func (s *Server) dispatch(cs *connState, w replier, args [][]byte) {
	s.m.commands.Add(1)
	if len(args) == 0 {
		s.replyError(w, "ERR empty command")
		return
	}
	name := strings.ToLower(string(args[0]))
	c := s.cmds[name]
	if c == nil {
		s.replyError(w, unknownCommand(name, args[1:]))
		return
	}
	if !cs.authed && name != "auth" && name != "quit" && name != "hello" {
		s.replyError(w, "NOAUTH Authentication required.")
		return
	}
	if !c.arityOK(len(args)) {
		s.replyError(w, "ERR wrong number of arguments for '"+name+"' command")
		return
	}
	c.run(s, cs, w, args)
}

func (s *Server) replyError(w replier, msg string) {
	s.m.errors.Add(1)
	w.WriteError(sanitize(msg))
}

// unknownCommand is Redis's message for a command it does not know.
func unknownCommand(name string, rest [][]byte) string {
	var b strings.Builder
	b.WriteString("ERR unknown command '")
	b.WriteString(truncate(name, 128))
	b.WriteString("', with args beginning with: ")
	for i, a := range rest {
		if i == 8 {
			break
		}
		b.WriteString("'")
		b.WriteString(truncate(string(a), 128))
		b.WriteString("' ")
	}
	return b.String()
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// sanitize keeps an error line a single RESP line.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
}

// reqContext is the context of one command: it ends when the server
// closes (the store applies its own RequestTimeout).
func (s *Server) reqContext() context.Context { return s.ctx }
