package cef

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
)

// Config is a CEF format's section (`format: cef` in a SIEM sink).
type Config struct {
	// DeviceVersion is the header's Device Version field; empty (the
	// default): the version of this sluice build.
	DeviceVersion string `yaml:"device-version"`
	// DeviceExternalID fills deviceExternalId, the name that tells this
	// sluice apart from others feeding the same SIEM; empty (the default):
	// the host name.
	DeviceExternalID string `yaml:"device-external-id"`
}

// DefaultConfig leaves both fields to be found at New: the build's version
// and the host name.
func DefaultConfig() Config { return Config{} }

// Limits the ArcSight SmartConnectors put on these fields; a longer value
// is truncated by the receiver, so it is refused here.
const (
	maxDeviceVersion    = 31
	maxDeviceExternalID = 255
)

// Validate reports every invalid key, by its name in the section.
func (c Config) Validate() error {
	var errs []error
	if len(c.DeviceVersion) > maxDeviceVersion {
		errs = append(errs, fmt.Errorf("device-version: at most %d bytes, got %d", maxDeviceVersion, len(c.DeviceVersion)))
	}
	if len(c.DeviceExternalID) > maxDeviceExternalID {
		errs = append(errs, fmt.Errorf("device-external-id: at most %d bytes, got %d", maxDeviceExternalID, len(c.DeviceExternalID)))
	}
	return errors.Join(errs...)
}

// buildVersion is the module version of this build, "dev" for a build
// from a work tree.
func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		if len(bi.Main.Version) > maxDeviceVersion {
			return bi.Main.Version[:maxDeviceVersion]
		}
		return bi.Main.Version
	}
	return "dev"
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "sluice"
	}
	return h
}
