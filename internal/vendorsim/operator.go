package vendorsim

// OperatorConfig is what an operator writes to the plugin's config/<name>
// to connect vendor through a simulator at base, with credentials c: the
// plugin's preset where it has one, and for the model-portfolio API (page
// 001, no preset) the generic fields spelled out. The unit tests, the
// end-to-end suite and the bench all configure the vendors from here.
// nil for an unknown vendor.
func OperatorConfig(vendor, base string, c Credentials) map[string]any {
	switch vendor {
	case AlphaSense:
		return map[string]any{
			"preset": "alphasense", "token_url": base + AlphaSenseTokenPath,
			"client_id": c.ClientID, "client_secret": c.ClientSecret,
			"username": c.Username, "password": c.Password, "api_key": c.APIKey,
		}
	case AlertSite:
		return map[string]any{
			"preset": "alertsite", "token_url": base + AlertSiteTokenPath,
			"username": c.Username, "password": c.Password,
		}
	case Alation:
		// The instance's base URL: the preset completes /oauth/v2/token/.
		return map[string]any{
			"preset": "alation", "token_url": base + "/alation",
			"client_id": c.ClientID, "client_secret": c.ClientSecret,
		}
	case AgentSync:
		return map[string]any{
			"preset": "agentsync", "token_url": base + AgentSyncTokenPath,
			"client_id": c.ClientID, "client_secret": c.ClientSecret,
		}
	case ModelPortfolio:
		return map[string]any{
			"token_url": base + ModelPortfolioTokenPath, "grant_type": "client_credentials",
			"body_format": "json", "headers": map[string]any{"Accept": "application/json; version=1.0.0"},
			"token_field": "accessToken", "expires_in_field": "expiresIn",
			"client_id": c.ClientID, "client_secret": c.ClientSecret,
		}
	}
	return nil
}
