package chaos

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
)

// Net is a private network made for one test: one network namespace per
// node, each with a veth pair whose other end is on a bridge in the root
// namespace. The bridge has address .254 of the subnet, so the test (in
// the root namespace) reaches every node and nothing else is involved.
// Faults are iptables rules and tc qdiscs inside the node namespaces, so
// they touch nothing outside what Net made; Close deletes it all.
//
// Names carry the test process's PID (netns "flchaos-PID-N", links
// "flcPIDbr", "flcPIDhN", "flcPIDpN"), so runs side by side never collide
// and Sweep can remove what a dead run left behind.
type Net struct {
	pid    int
	subnet string // "10.213.X"
	n      int
	// Netem: tc netem works here (delay and loss); without it, loss is
	// an iptables statistic rule and slowness a tbf rate limit.
	Netem bool

	mu sync.Mutex // serializes fault changes
	// dropped counts the packets the nemesis's DROP rules dropped, read
	// from their counters before each heal: the proof that the faults
	// were real. Guarded by mu.
	dropped int64
}

// netPrefix starts the names of every namespace a Net makes.
const netPrefix = "flchaos-"

// NetUnavailable says why this machine cannot run the namespace tests,
// or "" if it can: root, ip and iptables present, and ip netns add
// allowed.
func NetUnavailable() string {
	if os.Geteuid() != 0 {
		return "network namespaces need root (euid is " + strconv.Itoa(os.Geteuid()) + ")"
	}
	for _, tool := range []string{"ip", "iptables", "tc"} {
		if _, err := exec.LookPath(tool); err != nil {
			return tool + " not found (Debian: apt-get install iproute2 iptables)"
		}
	}
	probe := fmt.Sprintf("%s%d-probe", netPrefix, os.Getpid())
	if out, err := run("ip", "netns", "add", probe); err != nil {
		return "ip netns add is not allowed here: " + out
	}
	defer func() { _, _ = run("ip", "netns", "del", probe) }()
	if out, err := run("ip", "netns", "exec", probe, "iptables", "-w", "-L", "INPUT"); err != nil {
		return "iptables does not work in a network namespace here: " + out
	}
	return ""
}

// run runs a command and returns its combined output.
func run(name string, args ...string) (string, error) {
	var b bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &b, &b
	err := cmd.Run()
	out := strings.TrimSpace(b.String())
	if err != nil {
		return out, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, out)
	}
	return out, nil
}

// Sweep deletes the namespaces and links of earlier runs whose process
// is gone, and returns what it deleted.
func Sweep() []string {
	var gone []string
	dead := func(pidStr string) bool {
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() {
			return false
		}
		_, err = os.Stat("/proc/" + pidStr)
		return errors.Is(err, os.ErrNotExist)
	}
	if out, err := run("ip", "netns", "list"); err == nil {
		for _, line := range strings.Split(out, "\n") {
			name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
			rest, ok := strings.CutPrefix(name, netPrefix)
			pid, _, _ := strings.Cut(rest, "-")
			if ok && dead(pid) {
				if _, err := run("ip", "netns", "del", name); err == nil {
					gone = append(gone, "netns "+name)
				}
			}
		}
	}
	if out, err := run("ip", "-o", "link", "show"); err == nil {
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
			rest, ok := strings.CutPrefix(name, "flc")
			if !ok || len(rest) < 3 {
				continue
			}
			pid := strings.TrimRight(rest[:len(rest)-2], "bhp") // flcPIDbr, flcPIDhN, flcPIDpN
			if dead(pid) {
				if _, err := run("ip", "link", "del", name); err == nil {
					gone = append(gone, "link "+name)
				}
			}
		}
	}
	return gone
}

// NewNet makes n namespaces on a fresh bridge in a 10.213.X.0/24 subnet
// no interface here uses yet (X chosen from pick, tried in turn).
func NewNet(n int, pick uint64) (*Net, error) {
	nt := &Net{pid: os.Getpid(), n: n}
	for i := uint64(0); i < 254 && nt.subnet == ""; i++ {
		x := 1 + (pick+i)%254
		out, err := run("ip", "-o", "addr", "show", "to", fmt.Sprintf("10.213.%d.0/24", x))
		if err == nil && out == "" {
			nt.subnet = fmt.Sprintf("10.213.%d", x)
		}
	}
	if nt.subnet == "" {
		return nil, errors.New("chaos: no free 10.213.X.0/24 subnet")
	}
	if err := nt.build(); err != nil {
		nt.Close()
		return nil, err
	}
	_, err := run("ip", "netns", "exec", nt.Netns(1), "tc", "qdisc", "add", "dev", nt.veth('p', 1), "root", "netem", "delay", "1ms")
	if err == nil {
		nt.Netem = true
		_, _ = run("ip", "netns", "exec", nt.Netns(1), "tc", "qdisc", "del", "dev", nt.veth('p', 1), "root")
	}
	return nt, nil
}

func (nt *Net) bridge() string               { return fmt.Sprintf("flc%dbr", nt.pid) }
func (nt *Net) veth(side byte, i int) string { return fmt.Sprintf("flc%d%c%d", nt.pid, side, i) }

// Netns is node i's namespace (i from 1).
func (nt *Net) Netns(i int) string { return fmt.Sprintf("%s%d-%d", netPrefix, nt.pid, i) }

// Addr is node i's address.
func (nt *Net) Addr(i int) string { return fmt.Sprintf("%s.%d", nt.subnet, i) }

// Subnet is the network's /24, as 10.213.X.0/24.
func (nt *Net) Subnet() string { return nt.subnet + ".0/24" }

func (nt *Net) build() error {
	steps := [][]string{
		{"ip", "link", "add", nt.bridge(), "type", "bridge"},
		{"ip", "addr", "add", nt.subnet + ".254/24", "dev", nt.bridge()},
		{"ip", "link", "set", nt.bridge(), "up"},
	}
	for i := 1; i <= nt.n; i++ {
		ns, h, p := nt.Netns(i), nt.veth('h', i), nt.veth('p', i)
		steps = append(steps,
			[]string{"ip", "netns", "add", ns},
			[]string{"ip", "link", "add", h, "type", "veth", "peer", "name", p},
			[]string{"ip", "link", "set", p, "netns", ns},
			[]string{"ip", "link", "set", h, "master", nt.bridge(), "up"},
			[]string{"ip", "-n", ns, "addr", "add", nt.Addr(i) + "/24", "dev", p},
			[]string{"ip", "-n", ns, "link", "set", p, "up"},
			[]string{"ip", "-n", ns, "link", "set", "lo", "up"},
		)
	}
	for _, s := range steps {
		if _, err := run(s[0], s[1:]...); err != nil {
			return fmt.Errorf("chaos: making the test network: %w", err)
		}
	}
	return nil
}

// Close deletes the namespaces (their veth pairs go with them) and the
// bridge. It reports what it could not delete.
func (nt *Net) Close() error {
	var errs []error
	for i := 1; i <= nt.n; i++ {
		if _, err := os.Stat("/run/netns/" + nt.Netns(i)); err == nil {
			if _, err := run("ip", "netns", "del", nt.Netns(i)); err != nil {
				errs = append(errs, err)
			}
		}
		// The veth pair usually goes with its namespace, a moment later.
		if err := delLink(nt.veth('h', i)); err != nil {
			errs = append(errs, err)
		}
	}
	if err := delLink(nt.bridge()); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// delLink deletes a link if it exists; one that vanishes meanwhile is
// fine.
func delLink(name string) error {
	if _, err := run("ip", "link", "show", name); err != nil {
		return nil
	}
	if _, err := run("ip", "link", "del", name); err != nil {
		if _, serr := run("ip", "link", "show", name); serr != nil {
			return nil // gone anyway
		}
		return err
	}
	return nil
}

// ipt runs iptables in node i's namespace.
func (nt *Net) ipt(i int, args ...string) error {
	_, err := run("ip", append([]string{"netns", "exec", nt.Netns(i), "iptables", "-w"}, args...)...)
	return err
}

// Drop makes node to drop every packet from node from: a one-way cut
// (TCP from -> to stalls; to -> from still delivers its packets, but
// their acknowledgements are lost).
func (nt *Net) Drop(from, to int) error {
	nt.mu.Lock()
	defer nt.mu.Unlock()
	return nt.ipt(to, "-A", "INPUT", "-s", nt.Addr(from), "-j", "DROP")
}

// Cut drops the traffic between a and b both ways.
func (nt *Net) Cut(a, b int) error {
	if err := nt.Drop(a, b); err != nil {
		return err
	}
	return nt.Drop(b, a)
}

// Partition cuts every node of one side from every node of the other.
func (nt *Net) Partition(side1, side2 []int) error {
	for _, a := range side1 {
		for _, b := range side2 {
			if err := nt.Cut(a, b); err != nil {
				return err
			}
		}
	}
	return nil
}

// Lossy makes every node lose a fraction of the packets from its peers
// (the test's client traffic, from the bridge address, is spared), and,
// with netem, delay what it sends by delay ± jitter.
func (nt *Net) Lossy(lossPct int, delayMs, jitterMs int) error {
	nt.mu.Lock()
	defer nt.mu.Unlock()
	for i := 1; i <= nt.n; i++ {
		for j := 1; j <= nt.n; j++ {
			if j == i {
				continue
			}
			if err := nt.ipt(i, "-A", "INPUT", "-s", nt.Addr(j), "-m", "statistic", "--mode", "random",
				"--probability", fmt.Sprintf("%.2f", float64(lossPct)/100), "-j", "DROP"); err != nil {
				return err
			}
		}
		if nt.Netem {
			if _, err := run("ip", "netns", "exec", nt.Netns(i), "tc", "qdisc", "add", "dev", nt.veth('p', i), "root",
				"netem", "delay", fmt.Sprintf("%dms", delayMs), fmt.Sprintf("%dms", jitterMs)); err != nil {
				return err
			}
		}
	}
	return nil
}

// Slow limits what node i sends to rateKbit with a token bucket (tbf):
// bursts queue, so its messages arrive late.
func (nt *Net) Slow(i, rateKbit int) error {
	nt.mu.Lock()
	defer nt.mu.Unlock()
	_, err := run("ip", "netns", "exec", nt.Netns(i), "tc", "qdisc", "add", "dev", nt.veth('p', i), "root",
		"tbf", "rate", fmt.Sprintf("%dkbit", rateKbit), "burst", "16kbit", "latency", "500ms")
	return err
}

// Heal removes every fault: the INPUT rules and the qdiscs.
func (nt *Net) Heal() error {
	nt.mu.Lock()
	defer nt.mu.Unlock()
	var errs []error
	for i := 1; i <= nt.n; i++ {
		n, err := nt.droppedIn(i, "filter", "INPUT")
		if err != nil {
			errs = append(errs, err)
		}
		nt.dropped += n
		if err := nt.ipt(i, "-F", "INPUT"); err != nil {
			errs = append(errs, err)
		}
		// Deleting the root qdisc when there is none fails; that is fine.
		_, _ = run("ip", "netns", "exec", nt.Netns(i), "tc", "qdisc", "del", "dev", nt.veth('p', i), "root")
	}
	return errors.Join(errs...)
}

// droppedIn sums the packet counters of the DROP rules in a chain of
// node i's.
func (nt *Net) droppedIn(i int, table, chain string) (int64, error) {
	out, err := run("ip", "netns", "exec", nt.Netns(i), "iptables", "-w", "-t", table, "-L", chain, "-v", "-n", "-x")
	if err != nil {
		return 0, err
	}
	var sum int64
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) > 2 && f[2] == "DROP" {
			n, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("chaos: iptables counters: %q", line)
			}
			sum += n
		}
	}
	return sum, nil
}

// Dropped returns how many packets the faults have dropped so far
// (counted at each Heal).
func (nt *Net) Dropped() int64 {
	nt.mu.Lock()
	defer nt.mu.Unlock()
	return nt.dropped
}
