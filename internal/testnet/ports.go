package testnet

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// lowestPort is the bottom of the range FreeAddrs picks from: above the
// well-known and most registered service ports.
const lowestPort = 20000

// FreeAddrs returns n distinct 127.0.0.1 addresses whose ports were free
// for TCP and UDP at the call, chosen below the kernel's ephemeral port
// range (see the package doc). It fails the test if it cannot find them.
func FreeAddrs(t testing.TB, n int) []string {
	t.Helper()
	addrs, err := Free(n)
	if err != nil {
		t.Fatal(err)
	}
	return addrs
}

// Free is FreeAddrs returning an error.
func Free(n int) ([]string, error) {
	hi := ephemeralLow()
	if hi-lowestPort < 1000 {
		return freeEphemeral(n) // an unusual range: fall back to port 0
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(os.Getpid())))
	var held []net.Listener
	var heldUDP []net.PacketConn
	defer func() {
		for _, l := range held {
			_ = l.Close()
		}
		for _, c := range heldUDP {
			_ = c.Close()
		}
	}()
	var out []string
	for tries := 0; len(out) < n; tries++ {
		if tries > 100*n {
			return nil, fmt.Errorf("testnet: no free port found in [%d, %d) after %d tries", lowestPort, hi, tries)
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(lowestPort+rng.IntN(hi-lowestPort)))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			_ = ln.Close()
			continue
		}
		held, heldUDP = append(held, ln), append(heldUDP, pc)
		out = append(out, addr)
	}
	return out, nil
}

// ephemeralLow is the first port of the kernel's ephemeral range (32768
// when it cannot be read: Linux's default).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) < 1 {
		return 32768
	}
	lo, err := strconv.Atoi(f[0])
	if err != nil {
		return 32768
	}
	return lo
}

func freeEphemeral(n int) ([]string, error) {
	var out []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("testnet: %w", err)
		}
		defer ln.Close()
		out = append(out, ln.Addr().String())
	}
	return out, nil
}
