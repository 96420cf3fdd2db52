package server

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/tidwall/redcon"
)

// FuzzRESPFraming feeds arbitrary bytes to the RESP framer, then hands
// redcon's reader exactly what the framer let through: redcon must never
// panic on it, refuse it (only its own inline quoting check may), nor
// produce a command larger than the framer's limits.
func FuzzRESPFraming(f *testing.F) {
	for _, s := range []string{
		"*1\r\n$4\r\nPING\r\n", "PING\r\n", "*1\r\n$9223372036854775807\r\nab\r\n", "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n",
		"*-1\r\n", "*2\r\n$3\r\nGET\r\n$-1\r\n", "GET \"a b\" 'c'\r\n", "*1\r\n$3\r\nGETX\r\n", "\r\n\r\n",
	} {
		f.Add([]byte(s), uint8(3))
	}
	lim := respLimits{maxBulk: 64, maxRequest: 256}
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8) {
		fr := respFramer{lim: lim}
		ok := 0
		step := int(chunk) + 1
		for ok < len(in) {
			k := min(step, len(in)-ok)
			n, err := fr.feed(in[ok : ok+k])
			ok += n
			if err != nil {
				break
			}
		}
		rd := redcon.NewReader(bytes.NewReader(in[:ok]))
		for {
			cmds, err := rd.ReadCommands()
			for _, c := range cmds {
				if len(c.Raw) > lim.maxRequest+maxInlineBytes {
					t.Fatalf("command of %d bytes passed", len(c.Raw))
				}
			}
			if err == io.EOF {
				return
			}
			if err != nil {
				if strings.Contains(err.Error(), "unbalanced quotes") {
					return
				}
				t.Fatalf("redcon refused what the framer passed (%q): %v", in[:ok], err)
			}
		}
	})
}
