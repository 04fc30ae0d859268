package check

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"sigs.k8s.io/yaml"
)

// composeService is what a compose file must say of one service.
type composeService struct {
	image string // image name before the tag
	// env the service must have (e.g. where Kafka keeps its log)
	env map[string]string
	// ports as published:target/protocol, with host IP for TCP
	ports []string
	// mounts: target → source, the source relative to the repository for
	// binds, the volume's name for volumes
	mounts map[string]string
	// dependencies: service → condition
	deps map[string]string
}

const sluiceConfigPath = "/etc/sluice/sluice.yaml"

// dashboardMounts are the paths of the Grafana provisioning and dashboards
// (dashboards/, built beside deploy/) Grafana reads.
var dashboardMounts = map[string]string{
	"/etc/grafana/provisioning/datasources/sluice.yaml": "dashboards/provisioning/datasources/sluice.yaml",
	"/etc/grafana/provisioning/dashboards/sluice.yaml":  "dashboards/provisioning/dashboards/sluice.yaml",
	"/var/lib/grafana/dashboards/sluice":                "dashboards/json",
	"/var/lib/grafana":                                  "grafana-data",
}

var composeFiles = map[string]map[string]composeService{
	"compose.yaml": {
		"kafka": {image: "apache/kafka", mounts: map[string]string{"/var/lib/kafka/data": "kafka-data"},
			// The image's default log directory is under /tmp, not the volume.
			env: map[string]string{"KAFKA_LOG_DIRS": "/var/lib/kafka/data"}},
		"clickhouse-users": {image: "sluice-pipeline",
			mounts: map[string]string{sluiceConfigPath: "deploy/examples/pipeline.yaml", "/initdb": "clickhouse-initdb"}},
		"clickhouse": {image: "clickhouse/clickhouse-server", ports: []string{"127.0.0.1:8123:8123/tcp"},
			mounts: map[string]string{"/var/lib/clickhouse": "clickhouse-data", "/docker-entrypoint-initdb.d": "clickhouse-initdb"},
			deps:   map[string]string{"clickhouse-users": types.ServiceConditionCompletedSuccessfully}},
		"migrate": {image: "sluice-pipeline", mounts: map[string]string{sluiceConfigPath: "deploy/examples/pipeline.yaml"},
			deps: map[string]string{"clickhouse": types.ServiceConditionHealthy}},
		"collect": {image: "sluice-collect",
			ports:  []string{"2055:2055/udp", "4739:4739/udp", "6343:6343/udp", "127.0.0.1:8081:8080/tcp"},
			mounts: map[string]string{sluiceConfigPath: "deploy/examples/collect.yaml", "/var/lib/sluice": "collect-data"},
			deps:   map[string]string{"kafka": types.ServiceConditionHealthy}},
		"pipeline": {image: "sluice-pipeline", mounts: map[string]string{sluiceConfigPath: "deploy/examples/pipeline.yaml"},
			deps: map[string]string{"kafka": types.ServiceConditionHealthy, "migrate": types.ServiceConditionCompletedSuccessfully}},
		"grafana": {image: "grafana/grafana", ports: []string{"127.0.0.1:3000:3000/tcp"}, mounts: dashboardMounts,
			deps: map[string]string{"clickhouse": types.ServiceConditionHealthy}},
		"prometheus": {image: "prom/prometheus", ports: []string{"127.0.0.1:9090:9090/tcp"},
			mounts: map[string]string{"/etc/prometheus/prometheus.yml": "deploy/compose/prometheus.yml", "/prometheus": "prometheus-data"}},
	},
	"compose.all-in-one.yaml": {
		"sluice": {image: "sluice-run",
			ports:  []string{"2055:2055/udp", "4739:4739/udp", "6343:6343/udp", "127.0.0.1:8080:8080/tcp", "127.0.0.1:8123:8123/tcp"},
			mounts: map[string]string{sluiceConfigPath: "deploy/examples/single-box.yaml", "/var/lib/sluice": "sluice-data"}},
		"grafana": {image: "grafana/grafana", ports: []string{"127.0.0.1:3000:3000/tcp"}, mounts: dashboardMounts,
			deps: map[string]string{"sluice": types.ServiceConditionHealthy}},
	},
}

// loadCompose loads a compose file of deploy/compose as docker compose
// does: with the directory's .env, interpolated and normalized.
func loadCompose(t *testing.T, name string) *types.Project {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "deploy/compose")
	opts, err := cli.NewProjectOptions([]string{filepath.Join(dir, name)},
		cli.WithWorkingDirectory(dir), cli.WithEnvFiles(), cli.WithDotEnv, cli.WithResolvedPaths(true))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return p
}

// TestComposeFiles loads both compose files with the Compose
// specification's library and checks every service: its image (pinned;
// sluice's built from deploy/docker/Dockerfile at the role's target), its
// ports (TCP on loopback only), its volumes (binds that exist, the
// dashboards at the paths dashboards/ provides), its dependencies (each
// condition one the dependency can meet), and that each sluice
// configuration it mounts passes `sluice config check` in the service's
// environment.
func TestComposeFiles(t *testing.T) {
	root := repoRoot(t)
	_, err := os.Stat(filepath.Join(root, "dashboards/provisioning"))
	dashboardsBuilt := err == nil
	for file, want := range composeFiles {
		t.Run(file, func(t *testing.T) {
			p := loadCompose(t, file)
			if got, exp := p.ServiceNames(), keys(want); !slices.Equal(sorted(got), exp) {
				t.Fatalf("services %v, want %v", sorted(got), exp)
			}
			for name, w := range want {
				s := p.Services[name]
				t.Run(name, func(t *testing.T) {
					checkImage(t, p, s, w.image)
					var ports []string
					for _, port := range s.Ports {
						spec := port.Published + ":" + strconv.FormatUint(uint64(port.Target), 10) + "/" + port.Protocol
						if port.HostIP != "" {
							spec = port.HostIP + ":" + spec
						}
						if port.Protocol == "tcp" && port.HostIP != "127.0.0.1" {
							t.Errorf("TCP port %s is open beyond this host", spec)
						}
						ports = append(ports, spec)
					}
					if !slices.Equal(sorted(ports), sorted(w.ports)) {
						t.Errorf("ports %v, want %v", ports, w.ports)
					}
					mounts := map[string]string{}
					for _, v := range s.Volumes {
						src := v.Source
						if v.Type == types.VolumeTypeBind {
							rel, err := filepath.Rel(root, v.Source)
							if err != nil {
								t.Fatal(err)
							}
							src = rel
							_, err = os.Stat(v.Source)
							if strings.HasPrefix(rel, "dashboards/") {
								// Built beside deploy/: required once dashboards/provisioning exists.
								if err != nil && dashboardsBuilt {
									t.Errorf("mount %s: %v", rel, err)
								}
							} else if err != nil {
								t.Errorf("mount %s: %v", rel, err)
							}
							if !v.ReadOnly {
								t.Errorf("bind mount %s is writable", rel)
							}
						} else if _, ok := p.Volumes[v.Source]; !ok {
							t.Errorf("volume %s is not declared", v.Source)
						}
						mounts[v.Target] = src
					}
					if !mapsEqual(mounts, w.mounts) {
						t.Errorf("mounts %v, want %v", mounts, w.mounts)
					}
					deps := map[string]string{}
					for dep, d := range s.DependsOn {
						deps[dep] = d.Condition
						target, ok := p.Services[dep]
						switch {
						case !ok:
							t.Errorf("depends on %s, which is not a service", dep)
						case d.Condition == types.ServiceConditionHealthy && target.HealthCheck == nil && !builtWithHealthCheck(target):
							t.Errorf("waits for %s to be healthy, which has no health check", dep)
						case d.Condition == types.ServiceConditionCompletedSuccessfully && target.Restart != "no":
							t.Errorf("waits for %s to complete, which restarts (%q)", dep, target.Restart)
						}
					}
					if !mapsEqual(deps, w.deps) {
						t.Errorf("depends on %v, want %v", deps, w.deps)
					}
					for k, v := range w.env {
						if got := s.Environment[k]; got == nil || *got != v {
							t.Errorf("environment %s is %v, want %q", k, got, v)
						}
					}
					for k, v := range s.Environment {
						if v == nil || *v == "" {
							t.Errorf("environment %s is empty (missing from .env?)", k)
						}
					}
					// What a sluice service runs (the image's ENTRYPOINT and CMD
					// under the service's entrypoint and command) reads the
					// configuration mounted, unless a shell runs it.
					if s.Build != nil && (len(s.Entrypoint) == 0 || s.Entrypoint[0] != "/bin/sh") {
						entry, cmd := imageArgv(t, dockerStagesByName(t), s.Build.Target)
						if len(s.Entrypoint) > 0 {
							entry, cmd = s.Entrypoint, nil
						}
						argv := containerArgv(entry, cmd, nil, s.Command)
						if path, err := configFlag(argv); err != nil {
							t.Error(err)
						} else if _, ok := w.mounts[path]; !ok {
							t.Errorf("runs %q, whose --config %s is not mounted", argv, path)
						}
					}
					if src, ok := w.mounts[sluiceConfigPath]; ok {
						// Only the secrets the service is given: a configuration
						// reading one the service lacks fails.
						env := []string{"SLUICE_KAFKA_SASL_PASSWORD=", "SLUICE_CLICKHOUSE_PASSWORD=",
							"SLUICE_ANALYST_PASSWORD=", "SLUICE_WRITER_PASSWORD="}
						for k, v := range s.Environment {
							env = append(env, k+"="+*v)
						}
						b, err := os.ReadFile(filepath.Join(root, src))
						if err != nil {
							t.Fatal(err)
						}
						if err := configCheck(t, materialize(t, "sluice.yaml", string(b)), env...); err != nil {
							t.Error(err)
						}
						for _, secret := range neededSecrets(t, s, string(b)) {
							if v := s.Environment[secret]; v == nil || *v == "" {
								t.Errorf("needs %s, which the service is not given", secret)
							}
						}
					}
				})
			}
		})
	}
}

// checkImage: third-party images pinned to a version from .env, sluice's
// built from the Dockerfile at the target its name says.
func checkImage(t *testing.T, p *types.Project, s types.ServiceConfig, want string) {
	t.Helper()
	name, tag, _ := strings.Cut(s.Image, ":")
	if name != want {
		t.Errorf("image %q, want %s", s.Image, want)
	}
	if s.Build == nil {
		if !pinned.MatchString(s.Image) {
			t.Errorf("image %q is not pinned to an exact version", s.Image)
		}
		return
	}
	for _, arg := range []string{"SLUICE_VERSION", "SLUICE_REVISION"} {
		if _, ok := s.Build.Args[arg]; !ok {
			t.Errorf("build passes no %s (sluice version would not name it)", arg)
		}
	}
	if tag != p.Environment["SLUICE_VERSION"] || tag == "" {
		t.Errorf("image %q: want the tag SLUICE_VERSION (%q)", s.Image, p.Environment["SLUICE_VERSION"])
	}
	if s.Build.Context != repoRoot(t) || s.Build.Dockerfile != "deploy/docker/Dockerfile" || "sluice-"+s.Build.Target != name {
		t.Errorf("build %s of %s at target %s, want the repository's deploy/docker/Dockerfile at the image's role",
			s.Build.Context, s.Build.Dockerfile, s.Build.Target)
	}
}

// builtWithHealthCheck: sluice's images carry their HEALTHCHECK (checked by
// TestDockerfile), which compose uses when the service sets none.
func builtWithHealthCheck(s types.ServiceConfig) bool {
	return s.Build != nil && slices.Contains(roles, s.Build.Target)
}

func keys[V any](m map[string]V) []string {
	var k []string
	for key := range m {
		k = append(k, key)
	}
	sort.Strings(k)
	return k
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestComposePrometheus: compose.yaml's Prometheus scrapes every sluice
// service of the split deployment on its /metrics port, by service name,
// and Grafana's Prometheus data source points at it.
func TestComposePrometheus(t *testing.T) {
	p := loadCompose(t, "compose.yaml")
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy/compose/prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		ScrapeConfigs []struct {
			StaticConfigs []struct {
				Targets []string `json:"targets"`
			} `json:"static_configs"`
			DNSSDConfigs []struct {
				Names []string `json:"names"`
				Type  string   `json:"type"`
				Port  int      `json:"port"`
			} `json:"dns_sd_configs"`
		} `json:"scrape_configs"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	scraped := map[string]bool{}
	for _, sc := range cfg.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			for _, target := range st.Targets {
				scraped[target] = true
			}
		}
		for _, d := range sc.DNSSDConfigs {
			for _, n := range d.Names {
				scraped[n+":"+strconv.Itoa(d.Port)] = d.Type == "A"
			}
		}
	}
	for name, s := range p.Services {
		if s.Build != nil && s.Restart != "no" && !scraped[name+":8080"] {
			t.Errorf("Prometheus does not scrape %s:8080 (scrapes %v)", name, scraped)
		}
	}
	if url := p.Services["grafana"].Environment["SLUICE_PROMETHEUS_URL"]; url == nil || *url != "http://prometheus:9090" {
		t.Errorf("Grafana's SLUICE_PROMETHEUS_URL %v, want http://prometheus:9090", url)
	}
}

// neededSecrets are the environment variables a sluice service needs that
// `config check` cannot miss (a server's password may be empty): the
// ClickHouse password of a named user without a password file, and the
// users' passwords `migrate --print-users` writes.
func neededSecrets(t *testing.T, s types.ServiceConfig, config string) []string {
	t.Helper()
	if strings.Contains(strings.Join(s.Entrypoint, " "), "--print-users") {
		return []string{"SLUICE_WRITER_PASSWORD", "SLUICE_ANALYST_PASSWORD"}
	}
	var cfg struct {
		Storage struct {
			Backend string `json:"backend"`
			Server  struct {
				Username     string `json:"username"`
				PasswordFile string `json:"password-file"`
			} `json:"server"`
		} `json:"storage"`
	}
	if err := yaml.Unmarshal([]byte(config), &cfg); err != nil {
		t.Fatal(err)
	}
	srv := cfg.Storage.Server
	if cfg.Storage.Backend == "server" && srv.Username != "" && srv.Username != "default" && srv.PasswordFile == "" {
		return []string{"SLUICE_CLICKHOUSE_PASSWORD"}
	}
	return nil
}
