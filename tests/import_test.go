package tests

import (
	"bytes"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The seed's Kong, APISIX and Envoy Gateway snippets (tests/testdata/import)
// imported with `portcullis import`, checked, their bundles tested, and
// served: the seed's "Expected Behaviour" must hold on the result.

// importRun runs `portcullis import SOURCE FILES... --out DIR` on the
// fixtures, with the signer's public key where the seed says
// YOUR_RSA_PUBLIC_KEY_HERE, and returns DIR, the exit code and the output.
func importRun(t *testing.T, signer *authnSigner, source string, fixtures ...string) (string, int, string) {
	t.Helper()
	dir := t.TempDir()
	var lines []string
	if signer != nil {
		pem := strings.TrimSpace(string(signer.publicPEM(t)))
		all := strings.Split(pem, "\n")
		lines = all[1 : len(all)-1]
	}
	args := []string{"import", source}
	for _, f := range fixtures {
		b, err := os.ReadFile(filepath.Join("testdata", "import", f))
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, l := range strings.Split(string(b), "\n") {
			if indent, ok := strings.CutSuffix(l, "YOUR_RSA_PUBLIC_KEY_HERE"); ok && lines != nil {
				l = indent + strings.Join(lines, "\n"+indent)
			}
			out = append(out, l)
		}
		p := filepath.Join(dir, f)
		if err := os.WriteFile(p, []byte(strings.Join(out, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, p)
	}
	outDir := filepath.Join(dir, "out")
	args = append(args, "--out", outDir)
	cmd := exec.Command(binary, args...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	code := 0
	if err := cmd.Run(); err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatal(err)
		}
		code = ee.ExitCode()
	}
	return outDir, code, buf.String()
}

// importVerify runs `portcullis check` on the imported config and the
// imported bundle's Rego tests (`portcullis test`, OPA's tester in-process).
func importVerify(t *testing.T, out string) {
	t.Helper()
	for _, args := range [][]string{
		{"check", "--config", filepath.Join(out, "portcullis.yaml")},
		{"test", filepath.Join(out, "bundles", "imported")},
	} {
		if b, err := exec.Command(binary, args...).CombinedOutput(); err != nil {
			t.Fatalf("portcullis %s: %v\n%s", strings.Join(args, " "), err, b)
		}
	}
}

// importServe starts the gateway on the imported directory with every
// replacement applied to portcullis.yaml (the input's upstreams point to
// hosts that do not exist here).
func importServe(t *testing.T, out string, replace ...string) *gateway {
	t.Helper()
	files := map[string]string{}
	var body string
	err := filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(out, p)
		if rel == "portcullis.yaml" {
			body = strings.NewReplacer(replace...).Replace(string(b))
		} else {
			files[rel] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return startGateway(t, gatewayConfig{Body: body, Files: files})
}

// importWant sends one request and checks the status.
func importWant(t *testing.T, g *gateway, want int, method, path, body string, header map[string]string) {
	t.Helper()
	var r *strings.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	var resp *http.Response
	if r != nil {
		resp = g.do(method, path, r, header)
	} else {
		resp = g.do(method, path, nil, header)
	}
	text := readAll(t, resp)
	if resp.StatusCode != want {
		t.Errorf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, text)
	}
}

// importToken mints a token of s. Tokens for the PEM keys of Kong and APISIX
// credentials carry no kid, as Kong and APISIX ignore it (MIGRATION.md);
// those of a JWKS issuer (aud set) carry the JWKS kid.
func importToken(t *testing.T, s *authnSigner, iss, aud string, exp time.Duration) string {
	t.Helper()
	now := time.Now()
	c := map[string]any{"iss": iss, "sub": "mobile-user", "role": "user", "iat": now.Add(-time.Hour).Unix(), "exp": now.Add(exp).Unix(), "jti": authnRandom(t, 8)}
	if aud != "" {
		c["aud"] = aud
		return s.token(t, c, nil)
	}
	return s.token(t, c, map[string]any{"kid": nil})
}

func withHeaders(maps ...map[string]string) map[string]string { return withFiles(maps...) }

func TestImportKongJWTSeed(t *testing.T) {
	t.Parallel()
	s := newAuthnSigner(t)
	out, code, msg := importRun(t, s, "kong", "kong-jwt.yaml", "kong-request-validator.yaml")
	if code != 0 {
		t.Fatalf("import exit %d, want 0:\n%s", code, msg)
	}
	importVerify(t, out)
	up := newUpstream(t, "api")
	g := importServe(t, out, "http://api-backend:8080", up.URL)
	valid := authnBearer(importToken(t, s, "https://auth.yourapp.com", "", 10*time.Minute))
	expired := authnBearer(importToken(t, s, "https://auth.yourapp.com", "", -10*time.Minute))
	json := map[string]string{"Content-Type": "application/json"}

	importWant(t, g, 401, "GET", "/api/v1/users", "", nil)
	importWant(t, g, 200, "GET", "/api/v1/users", "", valid)
	importWant(t, g, 401, "GET", "/api/v1/users", "", expired)
	importWant(t, g, 400, "POST", "/api/v1/users", `{"invalid_field": "value"}`, withHeaders(valid, json))
	importWant(t, g, 200, "POST", "/api/v1/users", `{"name": "test", "email": "t@example.com"}`, withHeaders(valid, json))
	importWant(t, g, 413, "POST", "/api/v1/upload", strings.Repeat("\x00", 2<<20), withHeaders(valid, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}))
	// A token that names the issuer of another key is refused, as Kong refused it.
	other := newAuthnSigner(t)
	importWant(t, g, 401, "GET", "/api/v1/users", "", authnBearer(importToken(t, other, "https://auth.yourapp.com", "", 10*time.Minute)))
	for _, r := range up.requests() {
		if r.URL.Path != "/api/v1/users" { // strip_path: false
			t.Errorf("upstream got %s", r.URL.Path)
		}
	}
}

func TestImportKongKeysSeedNeverWritesAKey(t *testing.T) {
	t.Parallel()
	out, code, msg := importRun(t, nil, "kong", "kong-keys.yaml")
	if code != 0 {
		t.Fatalf("import exit %d, want 0:\n%s", code, msg)
	}
	keys := []string{"partner-read-key-rotated-2026-04", "internal-svc-key-rotated-2026-04"}
	err := filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		for _, k := range keys {
			if bytes.Contains(b, []byte(k)) {
				t.Errorf("%s contains the cleartext key %s", p, k)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if strings.Contains(msg, k) {
			t.Errorf("import output contains the cleartext key %s", k)
		}
	}
	importVerify(t, out)
	up := newUpstream(t, "api")
	g := importServe(t, out, "http://api-backend:8080", up.URL)
	read := map[string]string{"X-API-Key": keys[0]}
	full := map[string]string{"X-API-Key": keys[1]}
	importWant(t, g, 200, "GET", "/api/v1/users", "", read)
	importWant(t, g, 403, "POST", "/api/v1/users", `{"name":"test"}`, read)
	importWant(t, g, 200, "POST", "/api/v1/users", `{"name":"test"}`, full)
	importWant(t, g, 401, "GET", "/api/v1/users", "", nil)
	importWant(t, g, 401, "GET", "/api/v1/users", "", map[string]string{"X-API-Key": "not-a-key"})
}

func TestImportAPISIXSeed(t *testing.T) {
	t.Parallel()
	s := newAuthnSigner(t)
	out, code, msg := importRun(t, s, "apisix", "apisix-jwt.yaml", "apisix-request-validation.yaml")
	if code != 0 {
		t.Fatalf("import exit %d, want 0:\n%s", code, msg)
	}
	importVerify(t, out)
	up := newUpstream(t, "api")
	g := importServe(t, out, "http://api-backend:8080", up.URL)
	// APISIX found the consumer by the key claim; Portcullis by iss (MIGRATION.md).
	valid := authnBearer(importToken(t, s, "mobile-app-key", "", 10*time.Minute))
	json := map[string]string{"Content-Type": "application/json"}
	importWant(t, g, 401, "GET", "/api/v1/users", "", nil)
	importWant(t, g, 200, "GET", "/api/v1/users", "", valid)
	importWant(t, g, 200, "GET", "/api/v1/users?token="+strings.TrimPrefix(valid["Authorization"], "Bearer "), "", nil)
	importWant(t, g, 401, "GET", "/api/v1/users", "", authnBearer(importToken(t, s, "mobile-app-key", "", -10*time.Minute)))
	importWant(t, g, 400, "POST", "/api/v1/users", `{"invalid_field": "value"}`, json)
	importWant(t, g, 200, "POST", "/api/v1/users", `{"name": "test", "email": "t@example.com"}`, json)
	importWant(t, g, 413, "POST", "/api/v1/upload", strings.Repeat("\x00", 2<<20), valid)
}

func TestImportAPISIXReportsWhatDidNotMap(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, fixture, want string
	}{
		{"a route without upstream is reported with its line", "apisix-client-control.yaml", "apisix-client-control.yaml:3: routes.route-1: not mapped"},
		{"the userinfo header of openid-connect is reported", "apisix-oauth2-route.yaml", "apisix-oauth2-route.yaml:19: routes.route-1.plugins.openid-connect.set_userinfo_header: not mapped"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, code, msg := importRun(t, nil, "apisix", tc.fixture)
			if code != 3 || !strings.Contains(msg, tc.want) {
				t.Fatalf("exit %d, want 3 with %q:\n%s", code, tc.want, msg)
			}
			b, err := os.ReadFile(filepath.Join(out, "MIGRATION.md"))
			if err != nil || !strings.Contains(string(b), "**Incomplete**") {
				t.Fatalf("MIGRATION.md: %v\n%s", err, b)
			}
		})
	}
}

func TestImportEnvoyGatewaySeed(t *testing.T) {
	t.Parallel()
	s := newAuthnSigner(t)
	jwks := newAuthnJWKSServer(t, s)
	out, code, msg := importRun(t, nil, "envoy-gateway", "envoy-gateway-jwt.yaml", "envoy-gateway-httproute.yaml")
	if code != 0 {
		t.Fatalf("import exit %d, want 0:\n%s", code, msg)
	}
	importVerify(t, out)
	up := newUpstream(t, "api")
	g := importServe(t, out, "http://api-backend.production:8080", up.URL,
		"https://auth.yourapp.com/.well-known/jwks.json", jwks.URL)
	host := map[string]string{"Host": "api.yourapp.com"}
	valid := withHeaders(host, authnBearer(importToken(t, s, "https://auth.yourapp.com", "api.yourapp.com", 10*time.Minute)))
	importWant(t, g, 401, "GET", "/api/v1/users", "", host)
	importWant(t, g, 200, "GET", "/api/v1/users", "", valid)
	importWant(t, g, 401, "GET", "/api/v1/users", "", withHeaders(host, authnBearer(importToken(t, s, "https://auth.yourapp.com", "api.yourapp.com", -10*time.Minute))))
	importWant(t, g, 401, "GET", "/api/v1/users", "", withHeaders(host, authnBearer(importToken(t, s, "https://auth.yourapp.com", "other.example", 10*time.Minute))))
	reqs := up.requests()
	if len(reqs) != 1 || reqs[0].Header.Get("X-User-Id") != "mobile-user" || reqs[0].Header.Get("X-User-Role") != "user" {
		t.Fatalf("upstream requests %d, claim headers of the first: %v", len(reqs), reqs)
	}
}
