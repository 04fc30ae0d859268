package snmp

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"slices"
	"time"

	"sluice/internal/atomicfile"
)

// stateVersion changes when the file's meaning does; another version is
// ignored (the names are polled again).
const stateVersion = 1

// stateFile is the cache on disk: JSON, so an operator can read it.
type stateFile struct {
	Version   int             `json:"version"`
	Exporters []stateExporter `json:"exporters"`
}

type stateExporter struct {
	Address    netip.Addr       `json:"address"`
	SysName    string           `json:"sys_name,omitempty"`
	PolledAt   time.Time        `json:"polled_at"`
	LastSeen   int64            `json:"last_seen"` // unix seconds of the last lookup
	Interfaces []stateInterface `json:"interfaces"`
}

type stateInterface struct {
	Index       uint32 `json:"index"`
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	Speed       uint64 `json:"speed,omitempty"`
}

// save writes every cached exporter, atomically. Only the scheduler calls
// it.
func (p *Poller) save() error {
	state := stateFile{Version: stateVersion}
	for _, e := range p.exporters.Load().list() {
		s := e.data.Load()
		if s == nil {
			continue
		}
		se := stateExporter{Address: e.addr, SysName: s.sysName, PolledAt: s.polledAt.UTC(), LastSeen: e.lastSeen.Load(),
			Interfaces: make([]stateInterface, 0, s.count)}
		s.each(func(idx uint32, iface Interface) {
			se.Interfaces = append(se.Interfaces, stateInterface{Index: idx, Name: iface.Name, Description: iface.Description, Speed: iface.Speed})
		})
		slices.SortFunc(se.Interfaces, func(a, b stateInterface) int { return cmp.Compare(a.Index, b.Index) })
		state.Exporters = append(state.Exporters, se)
	}
	slices.SortFunc(state.Exporters, func(a, b stateExporter) int { return a.Address.Compare(b.Address) })
	data, err := json.Marshal(state)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(p.statePath, data, 0o640)
}

// load fills the cache from the state file. A missing file is a first
// start; an unreadable one is logged and ignored: names are polled again.
func (p *Poller) load(now time.Time) {
	data, err := os.ReadFile(p.statePath)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	var state stateFile
	if err == nil {
		err = json.Unmarshal(data, &state)
	}
	if err == nil && state.Version != stateVersion {
		err = fmt.Errorf("version %d, want %d", state.Version, stateVersion)
	}
	if err != nil {
		p.r.Warn("ignoring the SNMP cache file; names will be polled again", "path", p.statePath, "error", err.Error())
		return
	}
	expiredBefore := now.Add(-p.cfg.Expire).Unix()
	loaded := make(map[addrKey]*exporter, len(state.Exporters))
	var list []*exporter
	total := 0
	for _, se := range state.Exporters {
		if len(loaded) >= p.cfg.MaxExporters {
			break
		}
		addr := se.Address.Unmap()
		if !addr.IsValid() || se.LastSeen < expiredBefore || loaded[keyOf(addr)] != nil {
			continue
		}
		interfaces := make(map[uint32]Interface, len(se.Interfaces))
		for _, si := range se.Interfaces {
			if len(interfaces) < maxInterfaces {
				interfaces[si.Index] = Interface{Name: si.Name, Description: si.Description, Speed: si.Speed}
			}
		}
		snap := newSnapshot(se.SysName, se.PolledAt, interfaces)
		e := &exporter{addr: addr, key: keyOf(addr), cred: credentialFor(p.creds, addr)}
		e.data.Store(snap)
		e.lastSeen.Store(se.LastSeen)
		// Due when it would have been had the process kept running.
		e.nextPoll = se.PolledAt.Add(p.cfg.Interval)
		loaded[keyOf(addr)] = e
		list = append(list, e)
		total += snap.count
	}
	p.exporters.Store(newExporterTable(list))
	p.cachedExporters.Store(int64(len(loaded)))
	p.cachedInterfaces.Store(int64(total))
	p.full.Store(len(loaded) >= p.cfg.MaxExporters)
	p.r.Info("loaded the SNMP cache", "path", p.statePath, "exporters", len(loaded), "interfaces", total)
}
