//! A software authenticator that answers WebAuthn ceremonies as a browser
//! with a platform passkey would: P-256 keys, "none" attestation, ECDSA
//! signatures over the authenticator data and the client data's hash, a
//! counter, and discoverable credentials that return their user handle.
//! Real crypto: the server verifies every signature it makes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::bn::BigNumContext;
use openssl::ec::{EcGroup, EcKey, PointConversionForm};
use openssl::ecdsa::EcdsaSig;
use openssl::nid::Nid;
use openssl::pkey::Private;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// One credential the authenticator holds.
#[derive(Clone)]
pub struct Credential {
    pub id: Vec<u8>,
    key: EcKey<Private>,
    pub user_handle: Vec<u8>,
    pub counter: u32,
}

/// The authenticator, for one origin.
pub struct SoftAuthenticator {
    pub origin: String,
    pub credentials: Vec<Credential>,
    /// Whether its credentials are backup-eligible ("synced").
    pub synced: bool,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).expect("base64url")
}

/// CBOR head of major type `major` with argument `n`.
fn cbor_head(out: &mut Vec<u8>, major: u8, n: usize) {
    let m = major << 5;
    match n {
        0..=23 => out.push(m | n as u8),
        24..=255 => out.extend([m | 24, n as u8]),
        _ => {
            out.push(m | 25);
            out.extend((n as u16).to_be_bytes());
        }
    }
}

fn cbor_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    cbor_head(out, 2, bytes.len());
    out.extend(bytes);
}

fn cbor_text(out: &mut Vec<u8>, text: &str) {
    cbor_head(out, 3, text.len());
    out.extend(text.as_bytes());
}

/// A CBOR integer (small ones only).
fn cbor_int(out: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        cbor_head(out, 0, n as usize);
    } else {
        cbor_head(out, 1, (-1 - n) as usize);
    }
}

impl SoftAuthenticator {
    pub fn new(origin: &str) -> Self {
        Self {
            origin: origin.to_owned(),
            credentials: Vec::new(),
            synced: false,
        }
    }

    fn rp_id(&self) -> String {
        url::Url::parse(&self.origin)
            .expect("origin")
            .host_str()
            .expect("host")
            .to_owned()
    }

    fn flags(&self, extra: u8) -> u8 {
        // UP, UV, and BE (with BS) when synced.
        let backup = if self.synced { 0x08 | 0x10 } else { 0 };
        0x01 | 0x04 | backup | extra
    }

    fn client_data(&self, kind: &str, challenge: &str) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "type": kind,
            "challenge": challenge,
            "origin": self.origin,
            "crossOrigin": false,
        }))
        .expect("json")
    }

    /// Answers `navigator.credentials.create(options)`: a new credential,
    /// kept, and the `PublicKeyCredential` JSON for the server.
    pub fn create(&mut self, options: &Value) -> Value {
        self.create_with(options, None)
    }

    /// Like [`SoftAuthenticator::create`], but with the key and id of
    /// credential `reuse` when given (an authenticator that ignored
    /// `excludeCredentials`).
    pub fn create_with(&mut self, options: &Value, reuse: Option<usize>) -> Value {
        let public_key = &options["publicKey"];
        let challenge = public_key["challenge"].as_str().expect("challenge");
        let user_handle = unb64(public_key["user"]["id"].as_str().expect("user id"));
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).expect("P-256");
        let (key, id) = match reuse {
            Some(index) => (
                self.credentials[index].key.clone(),
                self.credentials[index].id.clone(),
            ),
            None => {
                let mut id = vec![0u8; 16];
                openssl::rand::rand_bytes(&mut id).expect("random");
                (EcKey::generate(&group).expect("key"), id)
            }
        };
        let mut ctx = BigNumContext::new().expect("ctx");
        let point = key
            .public_key()
            .to_bytes(&group, PointConversionForm::UNCOMPRESSED, &mut ctx)
            .expect("point");
        let (x, y) = (&point[1..33], &point[33..65]);
        let mut cose = Vec::new();
        cbor_head(&mut cose, 5, 5);
        cbor_int(&mut cose, 1);
        cbor_int(&mut cose, 2); // kty: EC2
        cbor_int(&mut cose, 3);
        cbor_int(&mut cose, -7); // alg: ES256
        cbor_int(&mut cose, -1);
        cbor_int(&mut cose, 1); // crv: P-256
        cbor_int(&mut cose, -2);
        cbor_bytes(&mut cose, x);
        cbor_int(&mut cose, -3);
        cbor_bytes(&mut cose, y);
        let mut auth_data = Sha256::digest(self.rp_id().as_bytes()).to_vec();
        auth_data.push(self.flags(0x40));
        auth_data.extend(0u32.to_be_bytes());
        auth_data.extend([0u8; 16]); // AAGUID
        auth_data.extend((id.len() as u16).to_be_bytes());
        auth_data.extend(&id);
        auth_data.extend(&cose);
        let mut attestation = Vec::new();
        cbor_head(&mut attestation, 5, 3);
        cbor_text(&mut attestation, "fmt");
        cbor_text(&mut attestation, "none");
        cbor_text(&mut attestation, "attStmt");
        cbor_head(&mut attestation, 5, 0);
        cbor_text(&mut attestation, "authData");
        cbor_bytes(&mut attestation, &auth_data);
        let client_data = self.client_data("webauthn.create", challenge);
        self.credentials.push(Credential {
            id: id.clone(),
            key,
            user_handle,
            counter: 0,
        });
        json!({
            "id": b64(&id),
            "rawId": b64(&id),
            "type": "public-key",
            "response": {
                "attestationObject": b64(&attestation),
                "clientDataJSON": b64(&client_data),
            },
            "extensions": {},
        })
    }

    /// Answers `navigator.credentials.get(options)` with credential
    /// `index`, with the client data `client_data` would make.
    pub fn get_with(&mut self, options: &Value, index: usize, origin: Option<&str>) -> Value {
        let challenge = options["publicKey"]["challenge"]
            .as_str()
            .expect("challenge")
            .to_owned();
        let rp_hash = Sha256::digest(self.rp_id().as_bytes()).to_vec();
        let flags = self.flags(0);
        let client_data = match origin {
            Some(other) => serde_json::to_vec(&json!({
                "type": "webauthn.get", "challenge": challenge, "origin": other, "crossOrigin": false,
            }))
            .expect("json"),
            None => self.client_data("webauthn.get", &challenge),
        };
        let credential = &mut self.credentials[index];
        credential.counter += 1;
        let mut auth_data = rp_hash;
        auth_data.push(flags);
        auth_data.extend(credential.counter.to_be_bytes());
        let mut signed = auth_data.clone();
        signed.extend(Sha256::digest(&client_data));
        let signature = EcdsaSig::sign(&Sha256::digest(&signed), &credential.key)
            .expect("sign")
            .to_der()
            .expect("der");
        json!({
            "id": b64(&credential.id),
            "rawId": b64(&credential.id),
            "type": "public-key",
            "response": {
                "authenticatorData": b64(&auth_data),
                "clientDataJSON": b64(&client_data),
                "signature": b64(&signature),
                "userHandle": b64(&credential.user_handle),
            },
            "extensions": {},
        })
    }

    /// Answers `navigator.credentials.get(options)` with its first
    /// credential.
    pub fn get(&mut self, options: &Value) -> Value {
        self.get_with(options, 0, None)
    }
}
