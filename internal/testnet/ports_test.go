package testnet

import (
	"net"
	"strconv"
	"testing"
)

func TestFreeAddrsBelowEphemeralAndBindable(t *testing.T) {
	addrs := FreeAddrs(t, 8)
	seen := map[string]bool{}
	lo := ephemeralLow()
	for _, a := range addrs {
		if seen[a] {
			t.Fatalf("address %s handed out twice", a)
		}
		seen[a] = true
		_, p, err := net.SplitHostPort(a)
		if err != nil {
			t.Fatal(err)
		}
		port, _ := strconv.Atoi(p)
		if lo-lowestPort >= 1000 && (port < lowestPort || port >= lo) {
			t.Fatalf("port %d outside [%d, %d)", port, lowestPort, lo)
		}
		ln, err := net.Listen("tcp", a)
		if err != nil {
			t.Fatalf("%s not bindable for TCP: %v", a, err)
		}
		pc, err := net.ListenPacket("udp", a)
		if err != nil {
			t.Fatalf("%s not bindable for UDP: %v", a, err)
		}
		ln.Close()
		pc.Close()
	}
}

// TestPortLockExcludes: a port reserved (by this process or another) is
// not handed out again until its reservation ends.
func TestPortLockExcludes(t *testing.T) {
	dir := t.TempDir()
	a, ok := lockPort(dir, 25000)
	if !ok {
		t.Fatal("first lock refused")
	}
	if b, ok := lockPort(dir, 25000); ok {
		b.Close()
		t.Fatal("a held port was locked twice")
	}
	a.Close()
	b, ok := lockPort(dir, 25000)
	if !ok {
		t.Fatal("a released port could not be locked again")
	}
	b.Close()
}
