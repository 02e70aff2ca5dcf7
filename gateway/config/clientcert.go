package config

// ClientCerts configures client-certificate authentication (method
// client_cert). The mapping of certificates to consumers lives in bundle
// data, so revoking is removing an entry.
type ClientCerts struct {
	// DataPath is where the mapping table is in bundle data. Default portcullis.client_certs.
	DataPath string `yaml:"data_path"`
}

func (c *Config) validateClientCA(ch *checker) {
	l := &c.Listen
	ch.oneOf("listen.client_auth", l.ClientAuth, "request", "require")
	if l.TLSClientCAFile == "" {
		return
	}
	if l.TLSCertFile == "" {
		ch.add("listen.tls_client_ca_file", "needs listen.tls_cert_file (client certificates come with TLS)")
		return
	}
	// The certificates are parsed with the generation (gateway/generation),
	// which names the file and what is wrong with it.
	ch.fileExists("listen.tls_client_ca_file", l.TLSClientCAFile)
}

// checkClientCertMethod checks what the client_cert method at field needs.
func (c *Config) checkClientCertMethod(ch *checker, field string) {
	switch {
	case c.Listen.TLSClientCAFile == "":
		ch.add(field, "client_cert needs listen.tls_client_ca_file")
	case len(c.Policy.Bundles) == 0:
		ch.add(field, "client_cert needs policy.bundles (the mappings live in bundle data)")
	}
}
