package netflow

import (
	"errors"
	"fmt"

	"github.com/netsampler/goflow2/v2/decoders/netflow"

	"sluice/collector/decodeerr"
)

// Errors are *decodeerr.Error; decodeerr.Reason(err) classifies them.

func newError(reason string, err error) *decodeerr.Error {
	return decodeerr.New("netflow", reason, err)
}

// classifyGoflow2 turns an error from goflow2's v9/IPFIX decoder into a
// decodeerr.Error. Missing templates are joined with nothing else (goflow2
// stops at the first other error), so errors.Is is enough to tell them
// apart.
func classifyGoflow2(err error) *decodeerr.Error {
	de := decodeerr.FromEOF("netflow", err)
	if de.Reason == decodeerr.Malformed && errors.Is(err, netflow.ErrorTemplateNotFound) {
		de.Reason = decodeerr.TemplateNotFound
	}
	return de
}

// templateOverrun is the cause of a template set refused by checkSets. It
// formats lazily: the datagrams that carry it are hostile or broken, and
// refusing them must stay cheap.
type templateOverrun struct {
	setID  uint16
	offset int
}

func (e *templateOverrun) Error() string {
	return fmt.Sprintf("template set %d at offset %d: a record claims more fields than the set holds", e.setID, e.offset)
}
