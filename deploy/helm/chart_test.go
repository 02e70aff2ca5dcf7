// Package helm_test lints and renders the chart with Helm itself and
// decodes every rendered object strictly into its Kubernetes API type.
package helm_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/portcullis/portcullis/deploy/internal/gwbuild"
)

const chart = "portcullis"

// helm runs the Helm declared as a tool of the deploy module.
func helm(args ...string) ([]byte, error) {
	var stderr bytes.Buffer
	cmd := exec.Command("go", append([]string{"tool", "helm"}, args...)...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, &helmError{err: err, stderr: stderr.String()}
	}
	return out, nil
}

type helmError struct {
	err    error
	stderr string
}

func (e *helmError) Error() string { return e.err.Error() + ": " + e.stderr }

// rendered is one `helm template` output, decoded.
type rendered struct {
	deployment  *appsv1.Deployment
	statefulSet *appsv1.StatefulSet
	services    map[string]*corev1.Service
	configMaps  map[string]*corev1.ConfigMap
	pdb         *policyv1.PodDisruptionBudget
	hpa         *autoscalingv2.HorizontalPodAutoscaler
	kinds       []string
}

func (r *rendered) pod(t *testing.T) corev1.PodTemplateSpec {
	t.Helper()
	switch {
	case r.deployment != nil && r.statefulSet == nil:
		return r.deployment.Spec.Template
	case r.statefulSet != nil && r.deployment == nil:
		return r.statefulSet.Spec.Template
	}
	t.Fatalf("want exactly one Deployment or StatefulSet, got kinds %v", r.kinds)
	return corev1.PodTemplateSpec{}
}

var docSep = regexp.MustCompile(`(?m)^---\s*$`)

// render runs helm template and decodes each document strictly by kind:
// an unknown or misspelt field anywhere fails, as the API server would
// reject (or, worse, silently drop) it.
func render(t *testing.T, args ...string) *rendered {
	t.Helper()
	out, err := helm(append([]string{"template", "gw", chart, "--namespace", "edge"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	r := &rendered{services: map[string]*corev1.Service{}, configMaps: map[string]*corev1.ConfigMap{}}
	for _, doc := range docSep.Split(string(out), -1) {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			t.Fatalf("%v\n%s", err, doc)
		}
		var obj any
		switch tm.APIVersion + " " + tm.Kind {
		case "apps/v1 Deployment":
			r.deployment = &appsv1.Deployment{}
			obj = r.deployment
		case "apps/v1 StatefulSet":
			r.statefulSet = &appsv1.StatefulSet{}
			obj = r.statefulSet
		case "v1 Service":
			obj = &corev1.Service{}
		case "v1 ConfigMap":
			obj = &corev1.ConfigMap{}
		case "v1 ServiceAccount":
			obj = &corev1.ServiceAccount{}
		case "policy/v1 PodDisruptionBudget":
			r.pdb = &policyv1.PodDisruptionBudget{}
			obj = r.pdb
		case "autoscaling/v2 HorizontalPodAutoscaler":
			r.hpa = &autoscalingv2.HorizontalPodAutoscaler{}
			obj = r.hpa
		default:
			t.Fatalf("unexpected object %s %s (add it to the test)", tm.APIVersion, tm.Kind)
		}
		if err := decodeStrict(doc, obj); err != nil {
			t.Fatalf("%s: %v\n%s", tm.Kind, err, doc)
		}
		switch o := obj.(type) {
		case *corev1.Service:
			r.services[o.Name] = o
		case *corev1.ConfigMap:
			r.configMaps[o.Name] = o
		}
		r.kinds = append(r.kinds, tm.Kind)
	}
	return r
}

// decodeStrict decodes as the API server's strict field validation does:
// field names match case-sensitively (encoding/json's would take
// readOnlyRootFileSystem for readOnlyRootFilesystem), and unknown or
// duplicate fields are errors.
func decodeStrict(doc string, obj any) error {
	j, err := yaml.YAMLToJSONStrict([]byte(doc))
	if err != nil {
		return fmt.Errorf("yaml: %w", err)
	}
	strict, err := kjson.UnmarshalStrict(j, obj)
	if err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	if len(strict) > 0 {
		return fmt.Errorf("strict decode: %w", errors.Join(strict...))
	}
	return nil
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// gatewayConfig is the part of the rendered portcullis.yaml the chart
// must keep consistent with the pod spec.
type gatewayConfig struct {
	Listen struct {
		Proxy, Admin  string
		DrainDelay    string `json:"drain_delay"`
		ShutdownGrace string `json:"shutdown_grace"`
		TLSCert       string `json:"tls_cert_file"`
		TLSKey        string `json:"tls_key_file"`
	}
	Policy struct {
		Bundles []struct {
			Name, Path, URL, Service string
			Persist                  bool
			Polling                  map[string]string
		}
		PersistenceDirectory string `json:"persistence_directory"`
	}
	DecisionLog struct {
		HTTP *struct {
			SpoolDir string `json:"spool_dir"`
		}
	} `json:"decision_log"`
}

func (r *rendered) config(t *testing.T) (string, gatewayConfig) {
	t.Helper()
	cm, ok := r.configMaps["gw-portcullis"]
	if !ok {
		t.Fatal("no ConfigMap gw-portcullis")
	}
	text := cm.Data["portcullis.yaml"]
	var c gatewayConfig
	if err := yaml.Unmarshal([]byte(text), &c); err != nil {
		t.Fatalf("portcullis.yaml: %v\n%s", err, text)
	}
	return text, c
}

func mustDuration(t *testing.T, s string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// checkCommon asserts what every value set must keep: probes, grace,
// spread, disruption budget, the locked-down security context, scraping.
func checkCommon(t *testing.T, r *rendered) {
	pod := r.pod(t)
	_, cfg := r.config(t)
	spec := pod.Spec
	drain, grace := mustDuration(t, cfg.Listen.DrainDelay), mustDuration(t, cfg.Listen.ShutdownGrace)
	if tg := spec.TerminationGracePeriodSeconds; tg == nil || time.Duration(*tg)*time.Second <= drain+grace {
		t.Errorf("terminationGracePeriodSeconds %v, want > drain_delay %s + shutdown_grace %s", ptrString(tg), drain, grace)
	}
	if cfg.Listen.Admin != ":8081" || cfg.Listen.Proxy != ":8080" {
		t.Errorf("listen %+v", cfg.Listen)
	}
	aff := spec.Affinity
	if aff == nil || aff.PodAntiAffinity == nil || len(aff.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) != 1 ||
		aff.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm.TopologyKey != "kubernetes.io/hostname" {
		t.Errorf("affinity %+v, want preferred anti-affinity by hostname", aff)
	}
	psc := spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser != 65532 ||
		psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext %+v", psc)
	}
	if len(spec.Containers) != 1 {
		t.Fatalf("%d containers", len(spec.Containers))
	}
	c := spec.Containers[0]
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil ||
		*sc.AllowPrivilegeEscalation || sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
		t.Errorf("container securityContext %+v", sc)
	}
	probe := func(name string, p *corev1.Probe, path string) {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != path || p.HTTPGet.Port.String() != "admin" {
			t.Errorf("%s probe %+v, want GET %s on the admin port", name, p, path)
		}
	}
	probe("readiness", c.ReadinessProbe, "/readyz")
	probe("liveness", c.LivenessProbe, "/healthz")
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if ports["proxy"] != 8080 || ports["admin"] != 8081 {
		t.Errorf("container ports %v", ports)
	}
	if want := []string{"run", "--config", "/etc/portcullis/config/portcullis.yaml"}; strings.Join(c.Args, " ") != strings.Join(want, " ") {
		t.Errorf("args %q", c.Args)
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m.Name
	}
	if mounts["/var/lib/portcullis/spool"] != "spool" || mounts["/tmp"] != "tmp" || mounts["/etc/portcullis/config"] != "config" {
		t.Errorf("mounts %v", mounts)
	}
	a := pod.Annotations
	if a["prometheus.io/scrape"] != "true" || a["prometheus.io/port"] != "8081" || a["prometheus.io/path"] != "/metrics" || a["checksum/config"] == "" {
		t.Errorf("pod annotations %v", a)
	}
	if r.pdb == nil || r.pdb.Spec.MaxUnavailable == nil || r.pdb.Spec.MaxUnavailable.IntValue() != 1 {
		t.Errorf("PodDisruptionBudget %+v, want maxUnavailable 1", r.pdb)
	}
	svc, ok := r.services["gw-portcullis"]
	if !ok || len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort.String() != "proxy" {
		t.Errorf("Service %+v, want the proxy port only", svc)
	}
}

func TestChartLints(t *testing.T) {
	t.Parallel()
	for _, values := range []string{"", "testdata/hpa-url.yaml", "testdata/pvc-tls.yaml"} {
		args := []string{"lint", "--strict", chart}
		if values != "" {
			args = append(args, "-f", values)
		}
		if out, err := helm(args...); err != nil {
			t.Errorf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

func TestDefaultValues(t *testing.T) {
	t.Parallel()
	r := render(t)
	checkCommon(t, r)
	if r.deployment == nil || r.deployment.Spec.Replicas == nil || *r.deployment.Spec.Replicas != 3 {
		t.Fatalf("Deployment %+v, want 3 replicas", r.deployment)
	}
	if ru := r.deployment.Spec.Strategy.RollingUpdate; ru == nil || ru.MaxUnavailable.IntValue() != 0 || ru.MaxSurge.IntValue() != 1 {
		t.Errorf("rolling update %+v, want maxSurge 1, maxUnavailable 0", ru)
	}
	if r.hpa != nil {
		t.Error("HPA rendered while autoscaling is off")
	}
	var spool *corev1.Volume
	for i, v := range r.deployment.Spec.Template.Spec.Volumes {
		if v.Name == "spool" {
			spool = &r.deployment.Spec.Template.Spec.Volumes[i]
		}
	}
	if spool == nil || spool.EmptyDir == nil {
		t.Errorf("spool volume %+v, want an emptyDir", spool)
	}
	_, cfg := r.config(t)
	if len(cfg.Policy.Bundles) != 1 || cfg.Policy.Bundles[0].Path != "/etc/portcullis/bundles/portcullis" {
		t.Errorf("bundles %+v, want the image's bundle", cfg.Policy.Bundles)
	}
	checkWithGateway(t, r, nil)
}

func TestHPAAndBundleURL(t *testing.T) {
	t.Parallel()
	r := render(t, "-f", "testdata/hpa-url.yaml")
	checkCommon(t, r)
	if r.deployment == nil || r.deployment.Spec.Replicas != nil {
		t.Errorf("Deployment %+v: replicas must be left to the HPA", r.deployment)
	}
	if r.hpa == nil || r.hpa.Spec.ScaleTargetRef.Kind != "Deployment" || r.hpa.Spec.ScaleTargetRef.Name != "gw-portcullis" ||
		r.hpa.Spec.MinReplicas == nil || *r.hpa.Spec.MinReplicas != 3 || r.hpa.Spec.MaxReplicas != 12 {
		t.Errorf("HPA %+v", r.hpa)
	}
	if tg := *r.pod(t).Spec.TerminationGracePeriodSeconds; tg != 45 {
		t.Errorf("terminationGracePeriodSeconds %d, want 10+30+5", tg)
	}
	_, cfg := r.config(t)
	b := cfg.Policy.Bundles
	if len(b) != 1 || b[0].URL != "https://bundles.example.com/portcullis/bundle.tar.gz" || b[0].Service != "bundles" || !b[0].Persist ||
		b[0].Polling["min_delay"] != "30s" || b[0].Polling["max_delay"] != "60s" || b[0].Path != "" {
		t.Errorf("bundles %+v", b)
	}
	if cfg.Policy.PersistenceDirectory != "/var/lib/portcullis/bundles" {
		t.Errorf("persistence_directory %q", cfg.Policy.PersistenceDirectory)
	}
	mounts := map[string]string{}
	for _, m := range r.pod(t).Spec.Containers[0].VolumeMounts {
		mounts[m.MountPath] = m.Name
	}
	if mounts["/var/lib/portcullis/bundles"] != "persisted-bundles" || mounts["/etc/portcullis/secrets"] != "bundle-token" {
		t.Errorf("mounts %v", mounts)
	}
	if _, ok := mounts["/etc/portcullis/bundles/portcullis"]; ok {
		t.Error("a bundle ConfigMap is mounted beside the bundle URL")
	}
	// The remote bundle schema is issue 14's other half (policy.bundles[].url);
	// this value set is checked as rendered only.
}

func TestSpoolVolumeAndTLS(t *testing.T) {
	t.Parallel()
	root := gwbuild.Root(t)
	args := []string{"-f", "testdata/pvc-tls.yaml"}
	bundleFiles := map[string]string{}
	for _, f := range []string{".manifest", "authz.rego", "data.json"} {
		p := filepath.Join(root, "bundles/portcullis", f)
		args = append(args, "--set-file", "bundle.files."+strings.ReplaceAll(f, ".", `\.`)+"="+p)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		bundleFiles[f] = string(b)
	}
	r := render(t, args...)
	checkCommon(t, r)
	ss := r.statefulSet
	if ss == nil || ss.Spec.Replicas == nil || *ss.Spec.Replicas != 3 {
		t.Fatalf("StatefulSet %+v, want 3 replicas", ss)
	}
	if len(ss.Spec.VolumeClaimTemplates) != 1 || ss.Spec.VolumeClaimTemplates[0].Name != "spool" ||
		ss.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests.Storage().String() != "5Gi" {
		t.Errorf("volumeClaimTemplates %+v", ss.Spec.VolumeClaimTemplates)
	}
	if _, ok := r.services[ss.Spec.ServiceName]; !ok || ss.Spec.ServiceName == "gw-portcullis" {
		t.Errorf("serviceName %q: want a headless Service of its own", ss.Spec.ServiceName)
	}
	for _, v := range ss.Spec.Template.Spec.Volumes {
		if v.Name == "spool" {
			t.Error("the pod has a spool volume besides the claim template")
		}
	}
	cm, ok := r.configMaps["gw-portcullis-bundle"]
	if !ok {
		t.Fatal("no bundle ConfigMap")
	}
	for f, want := range bundleFiles {
		if cm.Data[f] != want {
			t.Errorf("bundle ConfigMap %s differs from bundles/portcullis/%s", f, f)
		}
	}
	_, cfg := r.config(t)
	if cfg.Listen.TLSCert != "/etc/portcullis/tls/tls.crt" || cfg.DecisionLog.HTTP == nil || cfg.DecisionLog.HTTP.SpoolDir != "/var/lib/portcullis/spool" {
		t.Errorf("config %+v", cfg)
	}
	checkWithGateway(t, r, cm.Data)
}

func TestRefusedValues(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, set, want string
	}{
		{"a listen address in config is refused", "config.listen.proxy=:9999", "config.listen.proxy is set by the chart"},
		{"bundles in config are refused", "config.policy.bundles[0].path=/x", "config.policy.bundles is set by the chart"},
		{"two bundle sources are refused", "bundle.url=https://b.example.com/b.tar.gz,bundle.existingConfigMap=mine", "at most one of files, existingConfigMap and url"},
	} {
		_, err := helm("template", "gw", chart, "--set", tc.set)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}

// checkWithGateway runs `portcullis check` on the rendered portcullis.yaml
// in a directory laid out as the pod's filesystem: the image's bundle, or
// the bundle ConfigMap's files, a TLS key pair where the Secret is mounted.
// The config's absolute paths are moved under that directory.
func checkWithGateway(t *testing.T, r *rendered, bundle map[string]string) {
	t.Helper()
	text, cfg := r.config(t)
	dir := t.TempDir()
	write := func(name, content string) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if bundle == nil {
		bundle = map[string]string{}
		src := filepath.Join(gwbuild.Root(t), "bundles/portcullis")
		entries, err := os.ReadDir(src)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(src, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			bundle[e.Name()] = string(b)
		}
	}
	for name, content := range bundle {
		write("etc/portcullis/bundles/portcullis/"+name, content)
	}
	if cfg.Listen.TLSCert != "" {
		cert, key := selfSigned(t)
		write("etc/portcullis/tls/tls.crt", cert)
		write("etc/portcullis/tls/tls.key", key)
	}
	if err := os.MkdirAll(filepath.Join(dir, "var/lib/portcullis/spool"), 0o700); err != nil {
		t.Fatal(err)
	}
	text = strings.NewReplacer("/etc/portcullis/", dir+"/etc/portcullis/", "/var/lib/portcullis/", dir+"/var/lib/portcullis/").Replace(text)
	write("etc/portcullis/config/portcullis.yaml", text)
	out, err := exec.Command(gwbuild.Binary(t), "check", "--config", filepath.Join(dir, "etc/portcullis/config/portcullis.yaml")).CombinedOutput()
	if err != nil {
		t.Errorf("portcullis check on the rendered config: %v\n%s\n%s", err, out, text)
	}
}

func selfSigned(t *testing.T) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "portcullis"}, DNSNames: []string{"portcullis"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}))
}

func ptrString(p *int64) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprint(*p)
}
