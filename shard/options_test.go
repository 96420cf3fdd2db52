package shard

import (
	"strings"
	"testing"
)

// TestMaxSyncingRoundsBounds: the default is one syncing round per worker;
// up to 64 are accepted, more are refused with an error naming the field.
func TestMaxSyncingRoundsBounds(t *testing.T) {
	o := Options{Dir: t.TempDir()}
	o.EnsureDefaults()
	if o.MaxSyncingRounds != 1 {
		t.Fatalf("default MaxSyncingRounds = %d, want 1", o.MaxSyncingRounds)
	}
	if err := o.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	o.MaxSyncingRounds = 64
	if err := o.Validate(); err != nil {
		t.Fatalf("MaxSyncingRounds 64: %v", err)
	}
	o.MaxSyncingRounds = 65
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "MaxSyncingRounds 65") {
		t.Fatalf("MaxSyncingRounds 65: %v; want it refused by name", err)
	}
}
