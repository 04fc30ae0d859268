package templates

import "cmp"

// InterfaceKey identifies an interface of one exporter: NetFlow v9/IPFIX
// options data announce names per observation domain.
type InterfaceKey struct {
	Version           uint16 `json:"version"`
	ObservationDomain uint32 `json:"domain"`
	IfIndex           uint32 `json:"ifindex"`
}

func (k InterfaceKey) compare(o InterfaceKey) int {
	return cmp.Or(cmp.Compare(k.Version, o.Version), cmp.Compare(k.ObservationDomain, o.ObservationDomain), cmp.Compare(k.IfIndex, o.IfIndex))
}

// InterfaceNames are what options data say of an interface: interfaceName
// (IE 82) and interfaceDescription (IE 83).
type InterfaceNames struct {
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
}

// InterfaceEntry is one stored interface, for snapshots.
type InterfaceEntry struct {
	Key   InterfaceKey   `json:"key"`
	Names InterfaceNames `json:"names"`
}

// setInterface stores an interface's names within the bounds.
func (e *exporter) setInterface(key InterfaceKey, names InterfaceNames) storeResult {
	s := e.store
	return setBounded(e, &e.interfaces, key, names, s.cfg.MaxInterfacesPerExporter, &s.interfaceCount, s.cfg.MaxInterfaces, &s.interfacesRefused)
}

// SetInterface records an interface's names announced in options data,
// creating the exporter's state if needed. Past a bound new interfaces are
// refused and counted (known ones are still updated).
func (h *Handle) SetInterface(key InterfaceKey, names InterfaceNames) {
	if names == (InterfaceNames{}) {
		return
	}
	h.update(func(e *exporter) storeResult { return e.setInterface(key, names) })
}

// Interface returns an interface's names, and whether any are known.
func (h *Handle) Interface(key InterfaceKey) (InterfaceNames, bool) {
	e := h.exporter()
	if e == nil {
		return InterfaceNames{}, false
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	names, ok := e.interfaces[key]
	return names, ok
}

// HasInterfaces tells whether the exporter announced any interface names,
// so a decoder looks names up only for exporters that send them.
func (h *Handle) HasInterfaces() bool {
	e := h.exporter()
	if e == nil {
		return false
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	return len(e.interfaces) > 0
}
