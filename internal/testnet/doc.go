// Package testnet gives tests loopback addresses for servers that must be
// named before they start (a static cluster's peers list, a gossip seed).
//
// The usual trick, listening on port 0 and closing, returns a port from the
// kernel's ephemeral range, where any outgoing connection on the machine
// may take it as its source port before the server binds it: with the test
// suites' thousands of loopback connections that happened in CI ("address
// already in use"). FreeAddrs picks ports below the ephemeral range
// instead, where the kernel never assigns source ports, at random (so
// parallel test processes rarely pick the same one), reserves each with a
// lock file (flock) under $TMPDIR/flotilla-test-ports until the test ends,
// so two test processes never hold the same port, and checks that each is
// free for both TCP and UDP (memberlist gossips on both) before handing it
// out.
//
// It is for tests only; nothing outside _test.go files imports it.
package testnet
