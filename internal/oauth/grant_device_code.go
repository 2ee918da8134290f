package oauth

// GrantDeviceCode is RFC 8628 3.4's device access token request: one poll
// of a device authorization (devicepoll.go), not a grant a connection runs
// on its own; DeviceCodeGrantType is the grant_type it sends.
const (
	GrantDeviceCode     = "device_code"
	DeviceCodeGrantType = "urn:ietf:params:oauth:grant-type:device_code"
)

// deviceCodeGrant: RFC 8628 3.4, the device code a device authorization
// gave (Config.DeviceCode), with the client's authentication as its token
// requests always carry it (client_id alone for a public client: Entra ID,
// GitHub and Google's TV and limited-input clients).
var deviceCodeGrant = grant{
	fields: func(f map[string]string, c *Config, _ grantInputs) {
		f["grant_type"] = DeviceCodeGrantType
		f["device_code"] = c.DeviceCode
	},
	authenticates: true,
}
