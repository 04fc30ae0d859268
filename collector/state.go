package collector

import (
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sluice/collector/templates"
	"sluice/internal/reporter"
)

// StateFile is the file, under Config.StateDir, holding the NetFlow v9 and
// IPFIX template and sampling state between runs.
const StateFile = "templates.json"

// statePersister keeps the template store on disk: it restores it at start,
// writes it every SaveInterval when it has changed, and at stop.
type statePersister struct {
	r        *reporter.Reporter
	path     string
	store    *templates.Store
	interval time.Duration
	limiter  *reporter.Limiter

	saves, saveErrors, loadErrors prometheus.Counter
	restored                      *prometheus.GaugeVec
	omitted                       *prometheus.GaugeVec

	mu        sync.Mutex // serialises saves
	saved     uint64     // store.Changes() at the last successful save
	savedOnce bool
	stop      chan struct{}
	done      chan struct{}
}

func newStatePersister(r *reporter.Reporter, dir string, store *templates.Store, interval time.Duration, reg prometheus.Registerer) (*statePersister, error) {
	f := reporter.NewMetrics(reg)
	p := &statePersister{
		r:          r,
		path:       filepath.Join(dir, StateFile),
		store:      store,
		interval:   interval,
		limiter:    r.NewLimiter(1, time.Minute),
		saves:      f.Counter("template_state_saves_total", "Times the NetFlow v9/IPFIX template and sampling state was written to the data directory."),
		saveErrors: f.Counter("template_state_save_errors_total", "Failed writes of the template and sampling state (retried at the next interval)."),
		loadErrors: f.Counter("template_state_load_errors_total", "Template state files that could not be read at start (the collector starts empty)."),
		omitted: f.GaugeVec("template_state_omitted", "What the last save left out to keep the file within templates.max-state-bytes: templates, sampling_rates, interfaces "+
			"(templates that never decoded data, and the rates and names of exporters none of whose templates did, go first).", "what"),
		restored: f.GaugeVec("template_state_restored", "What the last start restored from the data directory: exporters, templates, sampling_rates, interfaces, and what it left out: expired, refused.", "what"),
	}
	if err := f.Err(); err != nil {
		return nil, fmt.Errorf("register template state metrics: %w", err)
	}
	for _, what := range omittedWhat {
		p.omitted.WithLabelValues(what) // exported (0) before the first save
	}
	return p, nil
}

// omittedWhat are the what labels of template_state_omitted.
var omittedWhat = [...]string{"templates", "sampling_rates", "interfaces"}

// load restores the saved state. A missing file is the first start; an
// unreadable one is logged and counted, and the collector starts empty
// (exporters resend their templates within minutes).
func (p *statePersister) load(now time.Time) {
	snap, err := templates.ReadFile(p.path)
	if err != nil {
		p.loadErrors.Inc()
		p.r.Error("cannot restore template state; starting without it", "file", p.path, "err", err)
		return
	}
	st := p.store.Restore(snap, now)
	for what, n := range map[string]int{"exporters": st.Exporters, "templates": st.Templates,
		"sampling_rates": st.SamplingRates, "interfaces": st.Interfaces, "expired": st.Expired, "refused": st.Refused} {
		p.restored.WithLabelValues(what).Set(float64(n))
	}
	if len(snap.Exporters) > 0 {
		p.r.Info("template state restored", "file", p.path, "exporters", st.Exporters,
			"templates", st.Templates, "sampling_rates", st.SamplingRates,
			"expired_exporters", st.Expired, "refused", st.Refused)
	}
	p.saved, p.savedOnce = p.store.Changes(), true
}

// start saves every interval while the state changes.
func (p *statePersister) start() {
	p.stop, p.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(p.done)
		tick := time.NewTicker(p.interval)
		defer tick.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-tick.C:
				p.save(false)
			}
		}
	}()
}

// close stops the periodic saves and writes the state a last time.
func (p *statePersister) close() {
	if p.stop != nil {
		close(p.stop)
		<-p.done
		p.stop = nil
	}
	p.save(true)
}

// save writes the state if it changed since the last save (or always when
// force is set). Errors are counted and logged at most once a minute.
func (p *statePersister) save(force bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	changes := p.store.Changes()
	if !force && p.savedOnce && changes == p.saved {
		return
	}
	snap, omitted := p.store.SnapshotToPersist()
	for i, n := range [len(omittedWhat)]int{omitted.Templates, omitted.SamplingRates, omitted.Interfaces} {
		p.omitted.WithLabelValues(omittedWhat[i]).Set(float64(n))
	}
	if err := templates.WriteFile(p.path, snap); err != nil {
		p.saveErrors.Inc()
		if ok, suppressed := p.limiter.Allow("save"); ok {
			p.r.Error("cannot save template state", "file", p.path, "err", err, "suppressed", suppressed)
		}
		return
	}
	p.saves.Inc()
	p.saved, p.savedOnce = changes, true
}
