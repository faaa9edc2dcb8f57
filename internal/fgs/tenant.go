package fgs

import "time"

// Domain is a tenant (an account). It owns projects and users.
type Domain struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
}

// Project is a domain's project: the unit every function belongs to and
// every credential is bound to. Its Name is region-style (for example
// "cn-north-4"), since that is what the SDK's project lookup asks for.
type Project struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Domain  string    `json:"domain_id"`
	Created time.Time `json:"created"`
}

// User is a domain's user, who may ask for tokens with a password. A
// user's token may be scoped to any project of the user's domain.
type User struct {
	ID           string    `json:"id"`
	Domain       string    `json:"domain_id"`
	Name         string    `json:"name"`
	PasswordHash string    `json:"password_hash"` // see package auth
	Created      time.Time `json:"created"`
}

// Credential is an AK/SK pair bound to one project. A request signed with
// it may touch only that project. A temporary credential also has a
// security token that every request must carry, and an expiry.
type Credential struct {
	AccessKey     string    `json:"access_key"`
	SecretKey     string    `json:"secret_key"`
	Project       string    `json:"project_id"`
	SecurityToken string    `json:"security_token,omitempty"`
	Expires       time.Time `json:"expires,omitzero"` // zero: never
	Description   string    `json:"description,omitempty"`
	Created       time.Time `json:"created"`
}

// Principal is who an authenticated request acts for.
type Principal struct {
	Project   string // the only project the request may touch
	Domain    string
	AccessKey string // for AK/SK requests
	User      string // for token requests
}
