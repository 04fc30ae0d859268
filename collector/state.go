package collector

import (
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

	mu        sync.Mutex // serialises saves
	saved     uint64     // store.Changes() at the last successful save
	savedOnce bool
	stop      chan struct{}
	done      chan struct{}
}

func newStatePersister(r *reporter.Reporter, dir string, store *templates.Store, interval time.Duration, reg prometheus.Registerer) (*statePersister, error) {
	p := &statePersister{
		r:        r,
		path:     filepath.Join(dir, StateFile),
		store:    store,
		interval: interval,
		limiter:  r.NewLimiter(1, time.Minute),
		saves: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "template_state_saves_total", Help: "Times the NetFlow v9/IPFIX template and sampling state was written to the data directory.",
		}),
		saveErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "template_state_save_errors_total", Help: "Failed writes of the template and sampling state (retried at the next interval).",
		}),
		loadErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "template_state_load_errors_total", Help: "Template state files that could not be read at start (the collector starts empty).",
		}),
		restored: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "template_state_restored", Help: "What the last start restored from the data directory: exporters, templates, sampling_rates, interfaces, and what it left out: expired, refused.",
		}, []string{"what"}),
	}
	if err := register(reg, []prometheus.Collector{p.saves, p.saveErrors, p.loadErrors, p.restored}); err != nil {
		return nil, err
	}
	return p, nil
}

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
	if err := templates.WriteFile(p.path, p.store.Snapshot()); err != nil {
		p.saveErrors.Inc()
		if ok, suppressed := p.limiter.Allow("save"); ok {
			p.r.Error("cannot save template state", "file", p.path, "err", err, "suppressed", suppressed)
		}
		return
	}
	p.saves.Inc()
	p.saved, p.savedOnce = changes, true
}
