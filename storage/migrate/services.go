package migrate

import (
	"strconv"
	"strings"
	"sync"
)

// ServiceKey is a transport protocol number and port.
type ServiceKey struct {
	Proto uint8
	Port  uint16
}

// ServiceNames returns the well-known services of the shipped reference
// data (data/services.tsv, the services dictionary's rows), for the
// pipeline's service-name enrichment: one list for both, so a record's
// ServiceName and the dictionary agree.
var ServiceNames = sync.OnceValue(func() map[ServiceKey]string {
	names := map[ServiceKey]string{}
	for line := range strings.Lines(servicesTSV) {
		fields := strings.Split(strings.TrimRight(line, "\n"), "\t")
		if len(fields) != 3 {
			continue
		}
		proto, err1 := strconv.ParseUint(fields[0], 10, 8)
		port, err2 := strconv.ParseUint(fields[1], 10, 16)
		if err1 != nil || err2 != nil {
			continue
		}
		names[ServiceKey{uint8(proto), uint16(port)}] = fields[2]
	}
	return names
})
