package dashboards

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Dir is where the generated dashboards are, relative to dashboards/.
const Dir = "json"

// Render returns every dashboard's JSON, by file name (its uid + .json).
func Render() (map[string][]byte, error) {
	all, err := All()
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	for _, d := range all {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false) // SQL's < and > stay readable
		enc.SetIndent("", "  ")
		if err := enc.Encode(d); err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", d.UID, err)
		}
		files[d.UID+".json"] = b.Bytes()
	}
	return files, nil
}
