package config

// RouteOpenAPI configures request validation against an OpenAPI 3 document.
type RouteOpenAPI struct {
	// Spec is the OpenAPI document (relative to the config file). Empty: no validation.
	Spec string `yaml:"spec"`
	// Mode is enforce (400, default), report (allowed, recorded) or off.
	Mode string `yaml:"mode"`
	// UnknownOperation is reject (404, default) or pass.
	UnknownOperation string `yaml:"unknown_operation"`
	// ContentTypes allowed for bodies. Default: those the operation declares.
	ContentTypes []string `yaml:"content_types"`
	// Verbose includes the library's messages in problem responses; they may
	// echo parts of the request. For development only.
	Verbose bool `yaml:"verbose"`
}
