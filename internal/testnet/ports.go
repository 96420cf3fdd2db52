package testnet

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// lowestPort is the bottom of the range FreeAddrs picks from: above the
// well-known and most registered service ports.
const lowestPort = 20000

// FreeAddrs returns n distinct 127.0.0.1 addresses whose ports were free
// for TCP and UDP at the call, chosen below the kernel's ephemeral port
// range (see the package doc), and reserved against other test processes
// until the test ends. It fails the test if it cannot find them.
func FreeAddrs(t testing.TB, n int) []string {
	t.Helper()
	addrs, locks, err := free(n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, l := range locks {
			_ = l.Close()
		}
	})
	return addrs
}

// Free is FreeAddrs returning an error; its reservations last as long as
// the process.
func Free(n int) ([]string, error) {
	addrs, _, err := free(n)
	return addrs, err
}

func free(n int) (addrs []string, locks []*os.File, err error) {
	hi := ephemeralLow()
	if hi-lowestPort < 1000 {
		addrs, err := freeEphemeral(n) // an unusual range: fall back to port 0
		return addrs, nil, err
	}
	lockDir := filepath.Join(os.TempDir(), "flotilla-test-ports")
	if err := os.MkdirAll(lockDir, 0o777); err != nil {
		return nil, nil, fmt.Errorf("testnet: %w", err)
	}
	defer func() {
		if err != nil {
			for _, l := range locks {
				_ = l.Close()
			}
			locks = nil
		}
	}()
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
	for tries := 0; len(addrs) < n; tries++ {
		if tries > 100*n {
			return nil, nil, fmt.Errorf("testnet: no free port found in [%d, %d) after %d tries", lowestPort, hi, tries)
		}
		port := lowestPort + rng.IntN(hi-lowestPort)
		// Another test process may have picked the same port and not bound
		// it yet: a lock file per port, held until the test ends, keeps
		// two processes from handing out one port at the same time.
		lock, ok := lockPort(lockDir, port)
		if !ok {
			continue
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			_ = lock.Close()
			continue
		}
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			_ = ln.Close()
			_ = lock.Close()
			continue
		}
		held, heldUDP = append(held, ln), append(heldUDP, pc)
		addrs, locks = append(addrs, addr), append(locks, lock)
	}
	return addrs, locks, nil
}

// lockPort takes an exclusive, non-blocking flock on port's lock file in
// dir; the lock ends when the file is closed (or the process exits).
func lockPort(dir string, port int) (*os.File, bool) {
	f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(port)), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, false
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		return nil, false
	}
	return f, true
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
