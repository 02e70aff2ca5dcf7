package engine

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	opabundle "github.com/open-policy-agent/opa/v1/bundle"

	"github.com/portcullis/portcullis/policy/bundle"
)

// rsaKeys returns a PEM private key and writes the public key to a file.
func rsaKeys(t *testing.T) (priv string, pubFile string) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubFile = filepath.Join(t.TempDir(), "pub.pem")
	if err := os.WriteFile(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644); err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})), pubFile
}

func TestSignedBundles(t *testing.T) {
	t.Parallel()
	priv, pubFile := rsaKeys(t)
	otherPriv, _ := rsaKeys(t)
	sign := func(t *testing.T, b *opabundle.Bundle, key string) {
		t.Helper()
		if err := b.GenerateSignature(opabundle.NewSigningConfig(key, "RS256", ""), "default", false); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		build   func(t *testing.T) *opabundle.Bundle
		wantErr string
	}{
		{"a correctly signed bundle is accepted", func(t *testing.T) *opabundle.Bundle {
			b := testBundle("signed-1")
			sign(t, b, priv)
			return b
		}, ""},
		{"a tampered module is refused", func(t *testing.T) *opabundle.Bundle {
			b := testBundle("signed-1")
			sign(t, b, priv)
			b.Modules[0].Raw = []byte("package portcullis.authz\n\ndecision := {\"allow\": true, \"headers\": {\"x-admin\": \"1\"}}\n")
			return b
		}, "digest mismatch"},
		{"a bundle signed with another key is refused", func(t *testing.T) *opabundle.Bundle {
			b := testBundle("signed-1")
			sign(t, b, otherPriv)
			return b
		}, "verification"},
		{"an unsigned bundle is refused", func(t *testing.T) *opabundle.Bundle {
			return testBundle("unsigned")
		}, "missing .signatures.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := filepath.Join(t.TempDir(), "signed.tar.gz")
			writeTarball(t, p, tc.build(t))
			_, err := New(context.Background(), withRules(Options{
				Sources: []bundle.Source{{Path: p}},
				Signing: &bundle.Signing{KeyFile: pubFile},
			}))
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("New error = %v, want %q", err, tc.wantErr)
			}
		})
	}
}
