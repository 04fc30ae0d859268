package main

import (
	"context"
	"io"
	"strings"
	"testing"
)

// TestRoleCommandsRejectLeftoverArgs: a role command given an argument
// after its flags fails naming it, before reading any configuration
// (Kubernetes appends a pod's args to the image's entrypoint; a second
// --config there must not be ignored).
func TestRoleCommandsRejectLeftoverArgs(t *testing.T) {
	ctx := context.Background()
	args := []string{"--config", "/nonexistent/sluice.yaml", "collect", "--config", "/etc/sluice/collect.yaml"}
	for name, cmd := range map[string]func() error{
		"run":      func() error { return cmdRun(ctx, args, io.Discard) },
		"collect":  func() error { return cmdCollect(ctx, args, io.Discard) },
		"pipeline": func() error { return cmdPipeline(ctx, args, io.Discard) },
		"migrate":  func() error { return cmdMigrate(ctx, args, io.Discard, io.Discard) },
	} {
		t.Run(name, func(t *testing.T) {
			err := cmd()
			if err == nil || !strings.Contains(err.Error(), `unexpected argument "collect"`) {
				t.Fatalf("error %v, want one naming the unexpected argument \"collect\"", err)
			}
		})
	}
}
