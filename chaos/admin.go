package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// clusterView is the part of GET /api/cluster the admin faults use.
type clusterView struct {
	Nodes []struct {
		ID    int    `json:"id"`
		State string `json:"state"`
	} `json:"nodes"`
	Shards []struct {
		ID       uint64 `json:"id"`
		Replicas []int  `json:"replicas"`
		Leader   int    `json:"leader"`
	} `json:"shards"`
	Moves []struct {
		Shard uint64 `json:"shard"`
		From  int    `json:"from"`
		To    int    `json:"to"`
		Stage string `json:"stage"`
	} `json:"moves"`
	MetaLeader int `json:"meta_leader"`
}

// admin runs one placement admin operation, chosen at random, through a
// random live node's HTTP API. A refusal (another move of the shard in
// flight, a shard too small to split, a node down) is recorded and is not
// an error: the fault is the attempt, made while clients run.
func (nm *Nemesis) admin(f Fault) {
	up := nm.Cluster.Live()
	if len(up) == 0 {
		return
	}
	via := up[nm.Rng.IntN(len(up))]
	timeout := nm.AdminTimeout
	if timeout == 0 {
		timeout = 20 * time.Second
	}
	hc := &http.Client{Timeout: timeout}
	var view clusterView
	if err := getJSON(hc, "http://"+via.Spec.HTTPAddr+"/api/cluster", &view); err != nil || len(view.Shards) == 0 {
		nm.event(string(f)+"-skipped", "%s: no cluster view from node %d (%v)", f, via.Spec.ID, err)
		return
	}
	sh := view.Shards[nm.Rng.IntN(len(view.Shards))]
	var path string
	switch f {
	case FaultTransfer:
		var others []int
		for _, r := range sh.Replicas {
			if r != sh.Leader {
				others = append(others, r)
			}
		}
		if len(others) == 0 {
			return
		}
		path = fmt.Sprintf("/api/admin/transfer-leader?shard=%d&to=%d", sh.ID, others[nm.Rng.IntN(len(others))])
	case FaultMove:
		var free []int
		for _, n := range view.Nodes {
			if n.State == "live" && !containsInt(sh.Replicas, n.ID) {
				free = append(free, n.ID)
			}
		}
		if len(free) == 0 || len(sh.Replicas) == 0 {
			return
		}
		path = fmt.Sprintf("/api/admin/move?shard=%d&from=%d&to=%d", sh.ID,
			sh.Replicas[nm.Rng.IntN(len(sh.Replicas))], free[nm.Rng.IntN(len(free))])
	case FaultSplit:
		path = fmt.Sprintf("/api/admin/split?shard=%d", sh.ID)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+via.Spec.HTTPAddr+path, nil)
	resp, err := hc.Do(req)
	if err != nil {
		nm.event(string(f), "%s via node %d: %s: %v", f, via.Spec.ID, path, err)
		return
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	nm.event(string(f), "%s via node %d: %s: %d %s", f, via.Spec.ID, path, resp.StatusCode, body)
}

func getJSON(hc *http.Client, url string, out any) error {
	resp, err := hc.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func containsInt(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
