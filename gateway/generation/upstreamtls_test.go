package generation

import (
	"slices"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/testpki"
)

// withUpstreamTLS turns the fixture's route "other" into an https route
// with a tls block of extra settings (YAML flow-mapping members).
func withUpstreamTLS(extra string) func(string) string {
	return func(s string) string {
		return strings.Replace(s, "    upstream: http://127.0.0.1:9002\n",
			"    upstream: https://127.0.0.1:9002\n    tls: {ca_file: ca.pem, cert_file: client.pem, key_file: client-key.pem"+extra+"}\n", 1)
	}
}

// writePKI writes a CA bundle and a client pair issued by a fresh authority.
func writePKI(t *testing.T, f *fixture) {
	t.Helper()
	ca := testpki.NewCA(t, "ca")
	leaf := ca.Issue(t, "gateway", testpki.Options{})
	f.write("ca.pem", string(ca.PEM))
	f.write("client.pem", string(leaf.CertPEM))
	f.write("client-key.pem", string(leaf.KeyPEM))
}

// tlsGeneration builds a first generation from a fixture with a tls route.
func tlsGeneration(t *testing.T) (*fixture, *Generation) {
	t.Helper()
	f := newFixture(t)
	writePKI(t, f)
	g, err := build(t, f.config(withUpstreamTLS("")), nil)
	if err != nil {
		t.Fatal(err)
	}
	return f, g
}

func TestUpstreamTLSFilesRebuildOnlyTheirRoutesProxy(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		extra   string // settings of the second generation
		edit    func(t *testing.T, f *fixture)
		rebuilt bool
	}{
		{"unchanged files keep the proxy and its connections", "", nil, false},
		{"a rotated client pair gets a new transport", "", func(t *testing.T, f *fixture) {
			leaf := testpki.NewCA(t, "ca").Issue(t, "gateway-2", testpki.Options{})
			f.write("client.pem", string(leaf.CertPEM))
			f.write("client-key.pem", string(leaf.KeyPEM))
		}, true},
		{"a new CA bundle gets a new transport", "", func(t *testing.T, f *fixture) {
			f.write("ca.pem", string(testpki.NewCA(t, "ca-2").PEM))
		}, true},
		{"a new minimum version gets a new transport", ", min_version: '1.3'", nil, true},
		{"a new server name gets a new transport", ", server_name: users.internal", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, g1 := tlsGeneration(t)
			if tc.edit != nil {
				tc.edit(t, f)
			}
			g2, err := build(t, f.config(withUpstreamTLS(tc.extra)), g1)
			if err != nil {
				t.Fatal(err)
			}
			c := carries(g1, g2)
			if !c["upstream:users"] {
				t.Error("the route without tls lost its proxy")
			}
			if c["upstream:other"] == tc.rebuilt {
				t.Errorf("the tls route's proxy carried over = %v, want %v", c["upstream:other"], !tc.rebuilt)
			}
		})
	}
}

func TestUpstreamTLSProblemsFailTheBuild(t *testing.T) {
	t.Parallel()
	f, g1 := tlsGeneration(t)
	// Half a rotation: the new certificate is written, its key not yet.
	f.write("client.pem", string(testpki.NewCA(t, "ca").Issue(t, "gateway-2", testpki.Options{}).CertPEM))
	_, err := build(t, f.config(withUpstreamTLS("")), g1)
	want := `routes[1] "other": tls.cert_file ` + f.dir + "/client.pem, tls.key_file " + f.dir + "/client-key.pem: tls: private key does not match public key"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
}

func TestFilesListUpstreamTLSFiles(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	writePKI(t, f)
	files := Files(f.config(withUpstreamTLS("")))
	for _, name := range []string{"ca.pem", "client.pem", "client-key.pem"} {
		if !slices.Contains(files, f.dir+"/"+name) {
			t.Errorf("Files lacks %s: %v", name, files)
		}
	}
}
