package server

import (
	"testing"

	"github.com/portcullis/portcullis/gateway/config"
)

func TestPinRemote(t *testing.T) {
	url := func(name, file string) config.BundleSource {
		return config.BundleSource{Name: name, URL: "http://h/" + name, File: file}
	}
	local := config.BundleSource{Name: "local", Path: "/b"}
	boot := &config.Config{}
	boot.Policy.Bundles = []config.BundleSource{url("authz", "/s/current"), local}
	for _, tc := range []struct {
		name    string
		next    []config.BundleSource
		changed bool
		want    []string
	}{
		{"the download being activated is no change", []config.BundleSource{url("authz", "/s/abc.tar.gz"), local}, false, []string{"authz", "local"}},
		{"a url bundle added at reload is dropped", []config.BundleSource{url("authz", ""), url("new", ""), local}, true, []string{"local", "authz"}},
		{"a url bundle removed at reload stays", []config.BundleSource{local}, true, []string{"local", "authz"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next := &config.Config{}
			next.Policy.Bundles = tc.next
			if got := pinRemote(boot, next); got != tc.changed {
				t.Errorf("changed = %v, want %v", got, tc.changed)
			}
			var names []string
			for _, b := range next.Policy.Bundles {
				names = append(names, b.Name)
			}
			if len(names) != len(tc.want) {
				t.Fatalf("bundles %v, want %v", names, tc.want)
			}
			for i := range names {
				if names[i] != tc.want[i] {
					t.Fatalf("bundles %v, want %v", names, tc.want)
				}
			}
		})
	}
}
