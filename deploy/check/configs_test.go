package check

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sluice/internal/tlsclient/tlsclienttest"
)

// etcPath matches the files a configuration names under /etc/sluice: TLS
// certificates and keys, password files.
var etcPath = regexp.MustCompile(`/etc/sluice/[A-Za-z0-9._/-]+`)

// materialize writes config to a temporary directory for `sluice config
// check`, with every file it names under /etc/sluice (certificates, keys,
// password files) made real under a temporary root, and the paths moved
// there: the check reads those files, as sluice does at start.
func materialize(t *testing.T, name, config string) string {
	t.Helper()
	root := t.TempDir()
	certPEM, keyPEM := selfSigned(t)
	for _, p := range etcPath.FindAllString(config, -1) {
		var content []byte
		switch {
		case strings.HasSuffix(p, "key.pem"):
			content = keyPEM
		case strings.HasSuffix(p, ".pem"):
			content = certPEM
		default:
			content = []byte("secret\n")
		}
		dst := filepath.Join(root, strings.TrimPrefix(p, "/etc/sluice/"))
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(root, name)
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(config, "/etc/sluice/", root+"/")), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// selfSigned returns a self-signed certificate (a CA, and a client
// certificate) and its key, in PEM.
func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	certFile, keyFile := tlsclienttest.WriteSelfSigned(t, t.TempDir(), "sluice-deploy-check")
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	if keyPEM, err = os.ReadFile(keyFile); err != nil {
		t.Fatal(err)
	}
	return certPEM, keyPEM
}

// sluiceConfigs lists every sluice configuration under deploy/: the
// examples, and any other YAML with a top-level key only sluice's
// configuration has.
func sluiceConfigs(t *testing.T) []string {
	t.Helper()
	deploy := filepath.Join(repoRoot(t), "deploy")
	var found []string
	err := filepath.WalkDir(deploy, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "helm" || d.Name() == "testdata") {
			return filepath.SkipDir // chart templates and values are checked by rendering
		}
		if d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if regexp.MustCompile(`(?m)^(collector|kafka|storage|clickhouse-http|pipeline|spool):`).Match(b) &&
			!regexp.MustCompile(`(?m)^services:`).Match(b) {
			found = append(found, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// TestExampleConfigs: every sluice configuration in deploy/ passes `sluice
// config check`, the TLS ones with the certificates and secrets they name
// in place.
func TestExampleConfigs(t *testing.T) {
	configs := sluiceConfigs(t)
	want := []string{"collect.yaml", "collect-tls.yaml", "pipeline.yaml", "pipeline-cluster.yaml", "pipeline-tls.yaml", "single-box.yaml"}
	for _, w := range want {
		if !containsBase(configs, w) {
			t.Errorf("deploy/examples/%s not found among the configurations %v", w, configs)
		}
	}
	for _, path := range configs {
		t.Run(filepath.Base(path), func(t *testing.T) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := configCheck(t, materialize(t, filepath.Base(path), string(b))); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestExampleConfigsRefused: the check that passes the examples is not one
// that passes anything: a typo in a key and a bad value are refused.
func TestExampleConfigsRefused(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy/examples/pipeline.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string]string{
		"unknown key":  strings.Replace(string(b), "  backend: server", "  backend: server\n  bakend: server", 1),
		"bad protocol": strings.Replace(string(b), "protocol: http", "protocol: grpc", 1),
	} {
		if bad == string(b) {
			t.Fatalf("%s: the example changed; the substitution found nothing", name)
		}
		if err := configCheck(t, materialize(t, "bad.yaml", bad)); err == nil {
			t.Errorf("%s: sluice config check accepted it", name)
		}
	}
}

func containsBase(paths []string, base string) bool {
	for _, p := range paths {
		if filepath.Base(p) == base {
			return true
		}
	}
	return false
}
