package detect

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"sluice/internal/atomicfile"
	"sluice/pipeline/record"
)

// stateFile is the scheduler's state in its directory.
const stateFile = "detect-state.json"

// state is what the scheduler keeps across restarts, so that a restart
// neither evaluates a window twice nor forgets an ongoing event or an
// alert not yet delivered.
type state struct {
	// Watermark is the end (flow time) of the last window every detection
	// evaluated; Watermarks are each detection's (a failing detection
	// falls behind alone).
	Watermark  time.Time            `json:"watermark"`
	Watermarks map[string]time.Time `json:"watermarks,omitempty"`
	// NewestFlow is the newest flow end seen at the last run: when it
	// does not move, the stream is idle and the evaluation catches up to it.
	NewestFlow time.Time `json:"newest_flow"`
	// Open are the ongoing events, by detection and key.
	Open []openAlert `json:"open"`
	// Pending are alert records not yet stored and handed to every sink;
	// Delivered says which of the targets (0: the alerts table, i+1: sink
	// i) have them already.
	Pending []record.Alert `json:"pending,omitempty"`
	// Sent is each target's position in Pending (0: the alerts table,
	// i+1: sink i): the records before it are delivered to it.
	Sent []int `json:"sent,omitempty"`
	// Delivered is the earlier state's form of Sent (whole batches), read
	// only.
	Delivered []bool `json:"delivered,omitempty"`
}

// openAlert is an ongoing event: the alert as last emitted, and whether it
// changed since.
type openAlert struct {
	Key     string       `json:"key"`
	Alert   record.Alert `json:"alert"`
	Changed bool         `json:"changed"`
}

func loadState(dir string) (state, error) {
	var s state
	if dir == "" {
		return s, nil
	}
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("read state: %w", err)
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return s, fmt.Errorf("read state %s: %w", filepath.Join(dir, stateFile), err)
	}
	if s.Sent == nil && s.Delivered != nil {
		s.Sent = make([]int, len(s.Delivered))
		for i, done := range s.Delivered {
			if done {
				s.Sent[i] = len(s.Pending)
			}
		}
	}
	s.Delivered = nil
	return s, nil
}

func (s *state) save(dir string) error {
	if dir == "" {
		return nil
	}
	data, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, stateFile), data, 0o644); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	return nil
}

// minWatermark is the oldest of the 5-minute detections' watermarks, the
// global watermark at least. The long-window ones (beaconing, exfiltration)
// evaluate only their newest window whenever they run, so one sitting out
// hours after a query too large for the rate holds no one back.
func (s *state) minWatermark(ds []*detection) time.Time {
	var out time.Time
	for _, d := range ds {
		if d.latest {
			continue
		}
		wm := s.Watermarks[d.name]
		if wm.Before(s.Watermark) {
			wm = s.Watermark
		}
		if out.IsZero() || wm.Before(out) {
			out = wm
		}
	}
	if out.IsZero() {
		return s.Watermark
	}
	return out
}
