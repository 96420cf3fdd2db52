package shard

import (
	"strings"
	"testing"
)

// TestMaxSyncingRoundsAboveOneRefused: the default is one syncing round
// per worker, and more is refused with an error naming the field, while
// the stale lease reads seen with 4 (chaos.TestLeasePause) are not
// understood.
func TestMaxSyncingRoundsAboveOneRefused(t *testing.T) {
	o := Options{Dir: t.TempDir()}
	o.EnsureDefaults()
	if o.MaxSyncingRounds != 1 {
		t.Fatalf("default MaxSyncingRounds = %d, want 1", o.MaxSyncingRounds)
	}
	if err := o.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	o.MaxSyncingRounds = 4
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "MaxSyncingRounds 4") {
		t.Fatalf("MaxSyncingRounds 4: %v; want it refused by name", err)
	}
}
