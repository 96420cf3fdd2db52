package server

import (
	"crypto/subtle"
	"sort"
	"strconv"
	"strings"
)

func (s *Server) cmdPing(cs *connState, w replier, args [][]byte) {
	switch len(args) {
	case 1:
		w.WriteString("PONG")
	case 2:
		w.WriteBulk(args[1])
	default:
		s.replyError(w, "ERR wrong number of arguments for 'ping' command")
	}
}

func (s *Server) cmdEcho(cs *connState, w replier, args [][]byte) { w.WriteBulk(args[1]) }

func (s *Server) cmdQuit(cs *connState, w replier, args [][]byte) {
	cs.quit = true
	w.WriteString("OK")
}

// cmdAuth checks AUTH password or AUTH default password (the only user).
func (s *Server) cmdAuth(cs *connState, w replier, args [][]byte) {
	if len(args) > 3 {
		s.replyError(w, "ERR syntax error")
		return
	}
	if s.opts.Password == "" {
		s.replyError(w, "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
		return
	}
	if !s.checkAuth(args[1:]) {
		s.replyError(w, "WRONGPASS invalid username-password pair or user is disabled.")
		return
	}
	cs.authed = true
	w.WriteString("OK")
}

// checkAuth checks [user] password; the only user is "default".
func (s *Server) checkAuth(cred [][]byte) bool {
	if len(cred) == 2 {
		if string(cred[0]) != "default" {
			return false
		}
		cred = cred[1:]
	}
	return len(cred) == 1 && subtle.ConstantTimeCompare(cred[0], []byte(s.opts.Password)) == 1
}

// cmdHello answers HELLO [2 [AUTH user pass] [SETNAME name]]: only RESP2
// is spoken, so HELLO 3 fails with NOPROTO and clients fall back to RESP2.
func (s *Server) cmdHello(cs *connState, w replier, args [][]byte) {
	if len(args) > 1 && string(args[1]) != "2" {
		s.replyError(w, "NOPROTO this server speaks RESP2 only")
		return
	}
	for i := 2; i < len(args); i++ {
		switch strings.ToLower(string(args[i])) {
		case "auth":
			if i+2 >= len(args) || s.opts.Password == "" || !s.checkAuth(args[i+1:i+3]) {
				s.replyError(w, "WRONGPASS invalid username-password pair or user is disabled.")
				return
			}
			cs.authed = true
			i += 2
		case "setname":
			if i+1 >= len(args) {
				s.replyError(w, "ERR syntax error")
				return
			}
			cs.name = string(args[i+1])
			i++
		default:
			s.replyError(w, "ERR syntax error in HELLO option '"+truncate(string(args[i]), 64)+"'")
			return
		}
	}
	if !cs.authed {
		s.replyError(w, "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
		return
	}
	w.WriteArray(14)
	for _, kv := range [][2]string{{"server", "flotilla"}, {"version", s.opts.Version}} {
		w.WriteBulkString(kv[0])
		w.WriteBulkString(kv[1])
	}
	w.WriteBulkString("proto")
	w.WriteInt(2)
	w.WriteBulkString("id")
	w.WriteInt64(int64(s.store.NodeID()))
	w.WriteBulkString("mode")
	w.WriteBulkString("standalone")
	w.WriteBulkString("role")
	w.WriteBulkString("master")
	w.WriteBulkString("modules")
	w.WriteArray(0)
}

// cmdSelect accepts database 0, the only one.
func (s *Server) cmdSelect(cs *connState, w replier, args [][]byte) {
	if string(args[1]) != "0" {
		s.replyError(w, "ERR DB index is out of range (Flotilla has database 0 only)")
		return
	}
	w.WriteString("OK")
}

// cmdCommand answers COMMAND, COMMAND COUNT, COMMAND LIST, COMMAND INFO
// and COMMAND DOCS (an empty reply: redis-cli then shows no hints).
func (s *Server) cmdCommand(cs *connState, w replier, args [][]byte) {
	if len(args) == 1 {
		s.writeCommandInfos(w, s.sortedCommands())
		return
	}
	switch strings.ToLower(string(args[1])) {
	case "count":
		w.WriteInt(len(s.cmds))
	case "docs":
		w.WriteArray(0)
	case "list":
		cmds := s.sortedCommands()
		w.WriteArray(len(cmds))
		for _, c := range cmds {
			w.WriteBulkString(c.name)
		}
	case "info":
		var cmds []*command
		for _, a := range args[2:] {
			cmds = append(cmds, s.cmds[strings.ToLower(string(a))])
		}
		s.writeCommandInfos(w, cmds)
	default:
		s.replyError(w, "ERR unknown subcommand '"+truncate(string(args[1]), 64)+"'. Try COMMAND HELP.")
	}
}

func (s *Server) sortedCommands() []*command {
	cmds := make([]*command, 0, len(s.cmds))
	for _, c := range s.cmds {
		cmds = append(cmds, c)
	}
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].name < cmds[j].name })
	return cmds
}

// writeCommandInfos writes Redis's command info array (name, arity,
// flags, first key, last key, step); nil commands are written as null.
func (s *Server) writeCommandInfos(w replier, cmds []*command) {
	w.WriteArray(len(cmds))
	for _, c := range cmds {
		if c == nil {
			w.WriteNull()
			continue
		}
		w.WriteArray(6)
		w.WriteBulkString(c.name)
		w.WriteInt(c.arity)
		w.WriteArray(len(c.flags))
		for _, f := range c.flags {
			w.WriteString(f)
		}
		w.WriteInt(c.firstKey)
		w.WriteInt(c.lastKey)
		w.WriteInt(c.step)
	}
}

// cmdClient answers the CLIENT subcommands clients send on connect.
func (s *Server) cmdClient(cs *connState, w replier, args [][]byte) {
	switch sub := strings.ToLower(string(args[1])); {
	case sub == "setname" && len(args) == 3:
		cs.name = string(args[2])
		w.WriteString("OK")
	case sub == "getname" && len(args) == 2:
		if cs.name == "" {
			w.WriteNull()
			return
		}
		w.WriteBulkString(cs.name)
	case sub == "setinfo" && len(args) == 4, sub == "no-evict", sub == "no-touch":
		w.WriteString("OK")
	case sub == "id" && len(args) == 2:
		w.WriteInt64(0)
	case (sub == "info" || sub == "list") && len(args) >= 2:
		w.WriteBulkString("name=" + cs.name + " db=0 resp=2\n")
	default:
		s.replyError(w, "ERR unknown subcommand or wrong number of arguments for 'client|"+truncate(sub, 64)+"'")
	}
}

// cmdConfig answers CONFIG GET with no parameters (there are none to
// read over RESP) and refuses the rest.
func (s *Server) cmdConfig(cs *connState, w replier, args [][]byte) {
	if strings.EqualFold(string(args[1]), "get") {
		w.WriteArray(0)
		return
	}
	s.replyError(w, "ERR CONFIG "+strings.ToUpper(truncate(string(args[1]), 64))+" is not supported: configure Flotilla with shardnode's flags")
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
