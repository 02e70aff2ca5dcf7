package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/portcullis/portcullis/internal/scalebench"
)

// issuersPoint starts a gateway with n HS256 issuers (as
// BenchmarkScaleIssuers configures them) and an allow-all policy, and
// drives it with tokens of the last issuer.
func (s *scaleRun) issuersPoint(ctx context.Context, n int, extreme bool) (*binaryPoint, error) {
	if err := writeAllowAll(s.dir); err != nil {
		return nil, err
	}
	return s.jwtPoint(ctx, fmt.Sprintf("issuers-%d", n), n, filepath.Join(s.dir, "allowall"), extreme)
}

// rulesPoint starts a gateway whose policy has n rules
// (scalebench.RulesRego, as BenchmarkScalePolicyRules compiles it).
func (s *scaleRun) rulesPoint(ctx context.Context, n int, extreme bool) (*binaryPoint, error) {
	dir, err := writeAuthzBundle(filepath.Join(s.dir, fmt.Sprintf("rules-%d", n)), scalebench.RulesRego(n), "")
	if err != nil {
		return nil, err
	}
	return s.jwtPoint(ctx, fmt.Sprintf("rules-%d", n), 1, dir, extreme)
}

// dataPoint starts a gateway whose bundle holds mib MiB of data that the
// policy looks the subject up in (scalebench.BundleData and DataRego, as
// BenchmarkScaleBundleData compiles them).
func (s *scaleRun) dataPoint(ctx context.Context, mib int, extreme bool) (*binaryPoint, error) {
	dir, err := writeAuthzBundle(filepath.Join(s.dir, fmt.Sprintf("data-%dMiB", mib)), scalebench.DataRego, scalebench.BundleData(mib<<20))
	if err != nil {
		return nil, err
	}
	return s.jwtPoint(ctx, fmt.Sprintf("data-%dMiB", mib), 1, dir, extreme)
}

// writeAuthzBundle writes a bundle of the portcullis root at dir: rego
// after the package line of portcullis.authz, and data.json unless empty.
func writeAuthzBundle(dir, rego, data string) (string, error) {
	files := map[string]string{
		".manifest":  `{"revision": "1", "roots": ["portcullis"]}`,
		"authz.rego": "package portcullis.authz\n\n" + rego,
	}
	if data != "" {
		files["data.json"] = data
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// jwtPoint starts a gateway with issuers HS256 issuers and the bundle at
// dir, one route named users on /api/v1 that takes their JWTs, and
// measures it (measurePoint) with scalebench.Subjects tokens of the last
// issuer, one per user; the twin gets the same Authorization headers.
func (s *scaleRun) jwtPoint(ctx context.Context, name string, issuers int, dir string, extreme bool) (*binaryPoint, error) {
	var cfg strings.Builder
	cfg.WriteString("authn:\n  jwt:\n    issuers:\n")
	for i := range issuers {
		fmt.Fprintf(&cfg, "      - {issuer: %q, secret: %q, algorithms: [HS256], audiences: [%s]}\n",
			scalebench.Issuer(i), scalebench.IssuerSecret(i), scalebench.Audience)
	}
	cfg.WriteString(policyYAML(dir))
	fmt.Fprintf(&cfg, "routes:\n  - {name: users, match: {path_prefix: /api/v1}, upstream: %q, authn: {methods: [jwt]}}\n", s.upstreamURL)
	tokens, err := hs256Tokens(issuers-1, scalebench.Subjects)
	if err != nil {
		return nil, err
	}
	g, err := s.startGateway(ctx, name, cfg.String())
	if err != nil {
		return nil, err
	}
	defer g.stop()
	return s.measurePoint(ctx, g, extreme,
		requestSpec{method: "GET", url: "http://" + g.proxy + usersPath, header: "Authorization", values: tokens},
		requestSpec{method: "GET", url: s.bareBase + usersPath, header: "Authorization", values: tokens})
}

// hs256Tokens mints n bearer tokens of scalebench issuer i, for users
// user-0 … user-<n-1>, valid for an hour.
func hs256Tokens(i, n int) ([]string, error) {
	key, err := jwk.Import([]byte(scalebench.IssuerSecret(i)))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	out := make([]string, n)
	for k := range out {
		t, err := jwt.NewBuilder().Issuer(scalebench.Issuer(i)).Audience([]string{scalebench.Audience}).
			Subject(fmt.Sprintf("user-%d", k)).IssuedAt(now).Expiration(now.Add(time.Hour)).Build()
		if err != nil {
			return nil, err
		}
		signed, err := jwt.Sign(t, jwt.WithKey(jwa.HS256(), key))
		if err != nil {
			return nil, err
		}
		out[k] = "Bearer " + string(signed)
	}
	return out, nil
}
