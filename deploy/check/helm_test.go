package check

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	batchv1 "k8s.io/api/batch/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
)

func loadChart(t *testing.T) *chartv2.Chart {
	t.Helper()
	ch, err := loader.Load(filepath.Join(repoRoot(t), "deploy/helm/sluice"))
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// render renders the chart as `helm template` does, with the values
// (over the chart's own) checked against values.schema.json; it returns
// the manifests by template, or the error of the schema or a template.
func render(t *testing.T, ch *chartv2.Chart, values map[string]any) (map[string]string, error) {
	t.Helper()
	vals, err := util.ToRenderValues(ch, values, common.ReleaseOptions{Name: "flows", Namespace: "netops", IsInstall: true}, nil)
	if err != nil {
		return nil, err
	}
	return engine.Render(ch, vals)
}

// object is one rendered Kubernetes object.
type object struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name        string            `json:"name"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	raw []byte
}

func objects(t *testing.T, manifests map[string]string) []object {
	t.Helper()
	var objs []object
	for _, name := range keys(manifests) {
		for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(manifests[name], -1) {
			if strings.TrimSpace(regexp.MustCompile(`(?m)^#.*$`).ReplaceAllString(doc, "")) == "" {
				continue
			}
			var o object
			if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
				t.Fatalf("%s: %v\n%s", name, err, doc)
			}
			o.raw = []byte(doc)
			objs = append(objs, o)
		}
	}
	return objs
}

// decodeStrict decodes an object into its Kubernetes type, refusing any
// field the type does not have (a misspelt key in a template).
func decodeStrict(t *testing.T, o object, into any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(o.raw, into); err != nil {
		t.Fatalf("%s %s: %v\n%s", o.Kind, o.Metadata.Name, err, o.raw)
	}
}

// chartCase is one set of values and what the chart must make of it.
type chartCase struct {
	file  string // under deploy/helm/examples, "" for the defaults
	kinds []string
	// collectorKind is the collector's workload
	collectorKind string
	pipelines     int32
}

var chartCases = []chartCase{
	{"", []string{"ConfigMap", "ConfigMap", "Deployment", "Deployment", "Job", "Service", "Service", "Service"}, "Deployment", 2},
	{"daemonset-tls.yaml", []string{"ConfigMap", "ConfigMap", "DaemonSet", "Deployment", "Deployment", "Job", "Service", "Service", "Service", "Service", "ServiceMonitor"}, "DaemonSet", 6},
	{"deployment-http.yaml", []string{"ConfigMap", "ConfigMap", "Deployment", "Deployment", "Job", "Secret", "Secret", "Service", "Service", "Service"}, "Deployment", 4},
}

// TestChart renders the chart with Helm's library for the default values
// and each example, and checks the objects: their kinds, the workloads'
// probes, ports and security contexts, the UDP Service, the secrets'
// references, and that the configuration each pod mounts is one `sluice
// config check` accepts.
func TestChart(t *testing.T) {
	ch := loadChart(t)
	for _, c := range chartCases {
		name := c.file
		if name == "" {
			name = "defaults"
		}
		t.Run(name, func(t *testing.T) {
			values := map[string]any{}
			if c.file != "" {
				v, err := common.ReadValuesFile(filepath.Join(repoRoot(t), "deploy/helm/examples", c.file))
				if err != nil {
					t.Fatal(err)
				}
				values = v
			}
			manifests, err := render(t, ch, values)
			if err != nil {
				t.Fatal(err)
			}
			objs := objects(t, manifests)
			var kinds []string
			configs := map[string]map[string]string{} // ConfigMap → its data
			secrets := map[string]bool{}
			for _, o := range objs {
				kinds = append(kinds, o.Kind)
				switch o.Kind {
				case "ConfigMap":
					var cm corev1.ConfigMap
					decodeStrict(t, o, &cm)
					configs[cm.Name] = cm.Data
				case "Secret":
					var s corev1.Secret
					decodeStrict(t, o, &s)
					for k := range s.Data {
						secrets[s.Name+"/"+k] = true
					}
				}
			}
			if !slices.Equal(sorted(kinds), c.kinds) {
				t.Fatalf("kinds %v, want %v", sorted(kinds), c.kinds)
			}
			for _, o := range objs {
				switch o.Kind {
				case "Deployment", "DaemonSet":
					var spec corev1.PodTemplateSpec
					role := "pipeline"
					if strings.HasSuffix(o.Metadata.Name, "-collector") {
						role = "collector"
						if o.Kind != c.collectorKind {
							t.Errorf("collector is a %s, want %s", o.Kind, c.collectorKind)
						}
					}
					if o.Kind == "DaemonSet" {
						var ds appsv1.DaemonSet
						decodeStrict(t, o, &ds)
						spec = ds.Spec.Template
					} else {
						var d appsv1.Deployment
						decodeStrict(t, o, &d)
						spec = d.Spec.Template
						want := c.pipelines
						if strings.HasSuffix(o.Metadata.Name, "-pipeline-detect") {
							want = 1 // one worker raises the alerts, or each would
						}
						if role == "pipeline" && (d.Spec.Replicas == nil || *d.Spec.Replicas != want) {
							t.Errorf("%s replicas %v, want %d", o.Metadata.Name, d.Spec.Replicas, want)
						}
					}
					checkPod(t, role, spec, configs, secrets)
				case "Job":
					var j batchv1.Job
					decodeStrict(t, o, &j)
					checkMigrateJob(t, j, configs, secrets)
				case "Service":
					var s corev1.Service
					decodeStrict(t, o, &s)
					checkService(t, s)
				}
			}
		})
	}
}

// checkPod checks one role's pod template.
func checkPod(t *testing.T, role string, pod corev1.PodTemplateSpec, configs map[string]map[string]string, secrets map[string]bool) {
	t.Helper()
	ps := pod.Spec.SecurityContext
	if ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || ps.RunAsUser == nil || *ps.RunAsUser == 0 ||
		ps.SeccompProfile == nil || ps.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: pod security context %+v: want non-root, RuntimeDefault seccomp", role, ps)
	}
	if a := pod.Annotations; a["prometheus.io/scrape"] != "true" || a["prometheus.io/port"] != "8080" || a["prometheus.io/path"] != "/metrics" {
		t.Errorf("%s: no Prometheus scrape annotations: %v", role, a)
	}
	// A changed configuration or password rolls the pods.
	for _, a := range []string{"checksum/config", "checksum/secret"} {
		if len(pod.Annotations[a]) != 64 {
			t.Errorf("%s: annotation %s %q, want a SHA-256", role, a, pod.Annotations[a])
		}
	}
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("%s: %d containers", role, len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]
	sc := c.SecurityContext
	if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.ReadOnlyRootFilesystem == nil ||
		!*sc.ReadOnlyRootFilesystem || sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) ||
		len(sc.Capabilities.Add) != 0 {
		t.Errorf("%s: container security context %+v: want no escalation, a read-only root, every capability dropped", role, sc)
	}
	for _, p := range []struct {
		probe *corev1.Probe
		path  string
	}{{c.LivenessProbe, "/healthz"}, {c.ReadinessProbe, "/readyz"}, {c.StartupProbe, "/healthz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil || p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port.String() != "http" {
			t.Errorf("%s: probe %+v, want GET %s on port http", role, p.probe, p.path)
		}
	}
	ports := map[string]string{}
	for _, p := range c.Ports {
		ports[p.Name] = fmt.Sprintf("%d/%s", p.ContainerPort, p.Protocol)
	}
	want := map[string]string{"http": "8080/TCP"}
	if role == "collector" {
		want = map[string]string{"http": "8080/TCP", "netflow": "2055/UDP", "ipfix": "4739/UDP", "sflow": "6343/UDP"}
	}
	if !mapsEqual(ports, want) {
		t.Errorf("%s: ports %v, want %v", role, ports, want)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("%s: resources %+v: want CPU and memory requests and a memory limit", role, c.Resources)
	}
	// The configuration the container is told to read is the ConfigMap's
	// key mounted there, and sluice accepts it.
	// The state directory: an emptyDir with a size limit, or for a
	// DaemonSet's collector a directory on the node that must exist.
	for _, v := range pod.Spec.Volumes {
		if v.Name != "data" {
			continue
		}
		ok := v.EmptyDir != nil && (role != "collector" || v.EmptyDir.SizeLimit != nil)
		if role == "collector" && v.HostPath != nil {
			ok = strings.HasPrefix(v.HostPath.Path, "/") && v.HostPath.Type != nil && *v.HostPath.Type == corev1.HostPathDirectory
		}
		if !ok {
			t.Errorf("%s: data volume %+v", role, v.VolumeSource)
		}
	}
	// The argv is the image's ENTRYPOINT and CMD (the Dockerfile's, at the
	// role's target) with the container's command and args over them.
	image := map[string]string{"collector": "collect", "pipeline": "pipeline"}[role]
	argv, key, config := mountedConfig(t, role, image, pod.Spec, configs)
	if argv[1] != image {
		t.Fatalf("%s: runs %q, want sluice %s", role, argv, image)
	}
	var cfg struct {
		HTTP struct {
			Listen string `json:"listen"`
		} `json:"http"`
		Detect struct {
			InPipeline bool `json:"in-pipeline"`
		} `json:"detect"`
	}
	if err := yaml.Unmarshal([]byte(config), &cfg); err != nil {
		t.Fatalf("%s: %v", role, err)
	}
	// Detections run in the pipeline-detect worker only (one worker).
	if want := pod.Labels["app.kubernetes.io/component"] == "pipeline-detect"; cfg.Detect.InPipeline != want {
		t.Errorf("%s (%s): detect.in-pipeline %v, want %v", role, pod.Labels["app.kubernetes.io/component"], cfg.Detect.InPipeline, want)
	}
	// The probes and the Service reach 8080 from outside the pod: the
	// configuration (values' config: merged over the chart's) must listen
	// there, not on loopback.
	if host, port, err := net.SplitHostPort(cfg.HTTP.Listen); err != nil || port != "8080" || (host != "" && host != "0.0.0.0" && host != "::") {
		t.Errorf("%s: http.listen %q, want :8080 (probes and Prometheus come from outside the pod)", role, cfg.HTTP.Listen)
	}
	checkSecretEnv(t, role, c, key, config, secrets)
}

// mountedConfig is the argv a pod's container runs (over the image of the
// Dockerfile's target image), the ConfigMap key its --config reads and
// that key's text; each path under /etc/sluice the text names is mounted.
func mountedConfig(t *testing.T, role, image string, pod corev1.PodSpec, configs map[string]map[string]string) (argv []string, key, config string) {
	t.Helper()
	c := pod.Containers[0]
	entry, cmd := imageArgv(t, dockerStagesByName(t), image)
	argv = containerArgv(entry, cmd, c.Command, c.Args)
	if len(argv) < 2 || argv[0] != "/usr/local/bin/sluice" {
		t.Fatalf("%s: runs %q, want sluice", role, argv)
	}
	path, err := configFlag(argv)
	if err != nil {
		t.Fatalf("%s: %v", role, err)
	}
	var volume string
	for _, m := range c.VolumeMounts {
		if m.MountPath == path {
			key, volume = m.SubPath, m.Name
		}
	}
	var cm string
	for _, v := range pod.Volumes {
		if v.Name == volume && v.ConfigMap != nil {
			cm = v.ConfigMap.Name
		}
	}
	config, ok := configs[cm][key]
	if !ok {
		t.Fatalf("%s: runs %q, whose --config %s is not a ConfigMap key mounted (ConfigMap %q key %q)", role, argv, path, cm, key)
	}
	// Each path under /etc/sluice the configuration names is mounted.
	for _, p := range etcPath.FindAllString(config, -1) {
		if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return strings.HasPrefix(p, m.MountPath+"/") }) {
			t.Errorf("%s: the configuration names %s, which no volume mounts", role, p)
		}
	}
	return argv, key, config
}

// checkSecretEnv: the container's environment is from Secrets the chart
// makes (or the operator's), and sluice accepts the configuration with
// that environment and no other secret.
func checkSecretEnv(t *testing.T, role string, c corev1.Container, key, config string, secrets map[string]bool) {
	t.Helper()
	env := []string{"SLUICE_KAFKA_SASL_PASSWORD=", "SLUICE_CLICKHOUSE_PASSWORD="}
	for _, e := range c.Env {
		if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			t.Errorf("%s: environment %s is not from a Secret", role, e.Name)
			continue
		}
		ref := e.ValueFrom.SecretKeyRef
		if strings.HasPrefix(ref.Name, "flows-sluice-") && !secrets[ref.Name+"/"+ref.Key] {
			t.Errorf("%s: %s reads %s/%s, which the chart does not make", role, e.Name, ref.Name, ref.Key)
		}
		env = append(env, e.Name+"=from-secret")
	}
	if strings.Contains(config, "mechanism: scram") && !slices.Contains(env, "SLUICE_KAFKA_SASL_PASSWORD=from-secret") {
		t.Errorf("%s: SASL without the password in the environment", role)
	}
	if err := configCheck(t, materialize(t, key, config), env...); err != nil {
		t.Errorf("%s: %v", role, err)
	}
}

func checkService(t *testing.T, s corev1.Service) {
	t.Helper()
	if !strings.HasSuffix(s.Name, "-collector") {
		if s.Spec.Ports[0].Name != "http" || s.Spec.Ports[0].Port != 8080 {
			t.Errorf("%s: ports %+v, want http 8080 for /metrics", s.Name, s.Spec.Ports)
		}
		return
	}
	for _, p := range s.Spec.Ports {
		if p.Protocol != corev1.ProtocolUDP || p.TargetPort.String() != p.Name {
			t.Errorf("%s: port %+v, want UDP to the named container port", s.Name, p)
		}
	}
	if len(s.Spec.Ports) != 3 {
		t.Errorf("%s: %d ports, want netflow, ipfix, sflow", s.Name, len(s.Spec.Ports))
	}
	if s.Spec.Type != corev1.ServiceTypeClusterIP && s.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal {
		t.Errorf("%s: a %s Service with externalTrafficPolicy %q: exporters' addresses would be lost", s.Name, s.Spec.Type, s.Spec.ExternalTrafficPolicy)
	}
}

// TestChartRefusesInvalidValues: values.schema.json refuses bad values
// before anything renders, and the templates refuse what a schema cannot
// say (more pipeline workers than partitions; SASL without a password).
func TestChartRefusesInvalidValues(t *testing.T) {
	ch := loadChart(t)
	for _, c := range []struct {
		name   string
		values string
		want   string
	}{
		{"unknown top-level key", "colector: {}", "colector"},
		{"unknown nested key", "collector: {replica: 2}", "replica"},
		{"workload kind", "collector: {kind: StatefulSet}", "kind"},
		{"privileged port", "collector: {ports: {netflow: 514, ipfix: 4739, sflow: 6343}}", "netflow"},
		{"zero partitions", "kafka: {partitions: 0}", "partitions"},
		{"broker without port", "kafka: {brokers: [kafka]}", "brokers"},
		{"protocol", "clickhouse: {protocol: grpc}", "protocol"},
		{"SASL mechanism", "kafka: {sasl: {mechanism: gssapi}}", "mechanism"},
		{"traffic policy", "collector: {service: {externalTrafficPolicy: Nearest}}", "externalTrafficPolicy"},
		{"duration", "pipeline: {flushInterval: soon}", "flushInterval"},
		{"log level", "log: {level: verbose}", "level"},
		{"replicas as text", "pipeline: {replicas: two}", "replicas"},
		{"more workers than partitions", "kafka: {partitions: 4}\npipeline: {replicas: 5}", "exceeds kafka.partitions"},
		{"no partition for the detections' worker", "kafka: {partitions: 4}\npipeline: {replicas: 4}\ndetections: {enabled: true}", "exceeds kafka.partitions"},
		{"SASL without password", "kafka: {sasl: {mechanism: scram-sha-512, username: u}}", "SASL password"},
		{"TLS without its Secret", "kafka: {tls: {enabled: true}}", "kafka.tls.secretName"},
		{"spool on the node of a Deployment", "collector: {spool: {hostPath: /var/lib/sluice-spool}}", "needs collector.kind DaemonSet"},
		{"relative spool path", "collector: {kind: DaemonSet, spool: {hostPath: spool}}", "hostPath"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var values map[string]any
			if err := yaml.Unmarshal([]byte(c.values), &values); err != nil {
				t.Fatal(err)
			}
			_, err := render(t, ch, values)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("values %q: error %v, want one naming %q", c.values, err, c.want)
			}
		})
	}
}

// TestChartValuesDocumented: every example values file is one the tests
// render (no example escapes TestChart).
func TestChartValuesDocumented(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join(repoRoot(t), "deploy/helm/examples"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !slices.ContainsFunc(chartCases, func(c chartCase) bool { return c.file == e.Name() }) {
			t.Errorf("deploy/helm/examples/%s is not rendered by TestChart", e.Name())
		}
	}
}

// checkMigrateJob: the schema migration runs once per install or upgrade,
// before the workers (a pre-install,pre-upgrade hook), as `sluice migrate
// --backend server` over the pipeline's configuration and password.
func checkMigrateJob(t *testing.T, j batchv1.Job, configs map[string]map[string]string, secrets map[string]bool) {
	t.Helper()
	hooks := strings.Split(j.Annotations["helm.sh/hook"], ",")
	if !slices.Contains(hooks, "pre-install") || !slices.Contains(hooks, "pre-upgrade") {
		t.Errorf("Job %s: hooks %v, want pre-install and pre-upgrade", j.Name, hooks)
	}
	pod := j.Spec.Template.Spec
	if pod.RestartPolicy != corev1.RestartPolicyNever && pod.RestartPolicy != corev1.RestartPolicyOnFailure {
		t.Errorf("Job %s: restart policy %q", j.Name, pod.RestartPolicy)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("Job %s: %d containers", j.Name, len(pod.Containers))
	}
	argv, key, config := mountedConfig(t, "migrate", "pipeline", pod, configs)
	if argv[1] != "migrate" || !slices.Contains(argv, "--backend") || argv[slices.Index(argv, "--backend")+1] != "server" {
		t.Errorf("Job %s: runs %q, want sluice migrate --backend server", j.Name, argv)
	}
	if configs[j.Name] == nil || !strings.Contains(config, "backend: server") {
		t.Errorf("Job %s: reads %s, want its hook ConfigMap's pipeline configuration", j.Name, key)
	}
	// Its ConfigMap and Secret exist before it (pre-install runs before
	// the release's own objects).
	for _, m := range pod.Volumes {
		if m.ConfigMap != nil && m.ConfigMap.Name != j.Name {
			t.Errorf("Job %s mounts ConfigMap %s, which a pre-install hook runs before", j.Name, m.ConfigMap.Name)
		}
	}
	for _, e := range pod.Containers[0].Env {
		if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			continue
		}
		if ref := e.ValueFrom.SecretKeyRef; strings.HasPrefix(ref.Name, "flows-sluice-") && ref.Name != j.Name {
			t.Errorf("Job %s reads Secret %s, which a pre-install hook runs before", j.Name, ref.Name)
		}
	}
	checkSecretEnv(t, "migrate", pod.Containers[0], key, config, secrets)
}

// TestChartNetworkPolicy: with networkPolicy.enabled the release's pods
// take the flow ports over UDP from anywhere and 8080 only from their
// namespace and the namespaces listed; without it, no policy.
func TestChartNetworkPolicy(t *testing.T) {
	ch := loadChart(t)
	manifests, err := render(t, ch, map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objects(t, manifests) {
		if o.Kind == "NetworkPolicy" {
			t.Fatalf("a NetworkPolicy by default: %s", o.raw)
		}
	}
	manifests, err = render(t, ch, map[string]any{"networkPolicy": map[string]any{"enabled": true, "httpFromNamespaces": []any{"monitoring"}}})
	if err != nil {
		t.Fatal(err)
	}
	var policies []networkingv1.NetworkPolicy
	for _, o := range objects(t, manifests) {
		if o.Kind == "NetworkPolicy" {
			var np networkingv1.NetworkPolicy
			decodeStrict(t, o, &np)
			policies = append(policies, np)
		}
	}
	if len(policies) != 1 {
		t.Fatalf("%d NetworkPolicies, want 1", len(policies))
	}
	np := policies[0]
	if np.Spec.PodSelector.MatchLabels["app.kubernetes.io/instance"] != "flows" || len(np.Spec.PodSelector.MatchLabels) != 2 {
		t.Errorf("selects %v, want the release's pods", np.Spec.PodSelector.MatchLabels)
	}
	udp := map[int]bool{}
	var httpFrom []string
	for _, rule := range np.Spec.Ingress {
		for _, p := range rule.Ports {
			switch {
			case *p.Protocol == corev1.ProtocolUDP:
				if len(rule.From) != 0 {
					t.Errorf("UDP %s only from %v: exporters are anywhere", p.Port, rule.From)
				}
				udp[p.Port.IntValue()] = true
			case p.Port.IntValue() == 8080:
				for _, f := range rule.From {
					switch {
					case f.NamespaceSelector != nil && len(f.NamespaceSelector.MatchExpressions) == 1:
						httpFrom = append(httpFrom, f.NamespaceSelector.MatchExpressions[0].Values...)
					case f.PodSelector != nil && f.NamespaceSelector == nil && len(f.PodSelector.MatchLabels) == 0:
						httpFrom = append(httpFrom, "(own namespace)")
					default:
						t.Errorf("8080 from %+v", f)
					}
				}
				if len(rule.From) == 0 {
					t.Error("8080 open to all")
				}
			default:
				t.Errorf("port %s open", p.Port)
			}
		}
	}
	if !udp[2055] || !udp[4739] || !udp[6343] || len(udp) != 3 {
		t.Errorf("UDP ports %v, want 2055, 4739, 6343", udp)
	}
	if !slices.Equal(httpFrom, []string{"(own namespace)", "monitoring"}) {
		t.Errorf("8080 from %v, want the own namespace and monitoring", httpFrom)
	}
}
