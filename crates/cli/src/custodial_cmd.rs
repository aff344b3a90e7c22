//! `medchain custodial ...`: custodial accounts (users whose keys the node keeps), and the
//! `--as custodial:<session file>` signer every command that signs accepts.

use crate::commands::{NodeUrl, load_signer, print_json};
use anyhow::{Context as _, bail};
use clap::Subcommand;
use medchain_client::{
    Client, ClientError,
    custodial::{self, Custodial, Holder},
    http::RequestSigner,
    keys::PartyKeys,
    records::RecordsError,
};
use medchain_envelope::{Binding, DataKey, WrappedKey};
use medchain_types::{
    ChainId, PartyId, PartyKind, Signature, SignedTransaction, TxBody, records::RecordId, totp,
};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// `medchain custodial ...`
#[derive(Subcommand)]
pub enum CustodialCommand {
    /// As the organisation: open an account (the node makes and keeps the user's keys),
    /// register its party on chain, and print the one-time activation code for the user.
    Invite {
        /// The account's username (what the user signs in with).
        #[arg(long)]
        username: String,
        /// patient, practitioner or device.
        #[arg(long, default_value = "patient")]
        kind: String,
        /// The public label (practitioners and devices; patients have none).
        #[arg(long, default_value = "")]
        label: String,
        /// Roles, comma-separated (practitioners and devices).
        #[arg(long, default_value = "")]
        roles: String,
        /// The organisation: a key file, or dev:<name>.
        #[arg(long = "as")]
        signer: String,
        #[command(flatten)]
        node: NodeUrl,
    },
    /// As the organisation: list its accounts on the node (no secrets).
    List {
        /// The organisation: a key file, or dev:<name>.
        #[arg(long = "as")]
        signer: String,
        #[command(flatten)]
        node: NodeUrl,
    },
    /// As the user: activate the account with its code and choose a password. Prints the TOTP
    /// secret (and otpauth URI) to enrol in an authenticator app, and the recovery code.
    Activate {
        /// The account's username.
        #[arg(long)]
        username: String,
        /// The one-time activation code `custodial invite` printed.
        #[arg(long)]
        activation_code: String,
        #[command(flatten)]
        password: PasswordArgs,
        #[command(flatten)]
        node: NodeUrl,
    },
    /// As the user: sign in with the password and a TOTP code, and save the session (mode
    /// 0600) for `--as custodial:<file>`.
    SignIn {
        /// The account's username.
        #[arg(long)]
        username: String,
        /// The current code from the authenticator app.
        #[arg(long)]
        totp: String,
        #[command(flatten)]
        password: PasswordArgs,
        /// Where to save the session.
        #[arg(long)]
        session_file: PathBuf,
        /// Session lifetime in seconds (60 to 3,600).
        #[arg(long)]
        lifetime: Option<u64>,
        #[command(flatten)]
        node: NodeUrl,
    },
    /// End a saved session at once (the node drops the keys it held for it).
    SignOut {
        /// The session file `custodial sign-in` saved.
        #[arg(long)]
        session_file: PathBuf,
    },
    /// Change the password (with the current one and a TOTP code). Ends open sessions.
    Password {
        /// The account's username.
        #[arg(long)]
        username: String,
        /// The current code from the authenticator app (or `medchain custodial totp --secret
        /// <secret>`).
        #[arg(long)]
        totp: String,
        #[command(flatten)]
        password: PasswordArgs,
        /// A file holding the new password (else MEDCHAIN_NEW_PASSWORD).
        #[arg(long)]
        new_password_file: Option<PathBuf>,
        #[command(flatten)]
        node: NodeUrl,
    },
    /// Reset the password and the second factor with the recovery code. Prints the new TOTP
    /// secret and recovery code; ends open sessions.
    Recover {
        /// The account's username.
        #[arg(long)]
        username: String,
        /// The recovery code printed at activation (or at the last recovery).
        #[arg(long)]
        recovery_code: String,
        /// A file holding the new password (else MEDCHAIN_NEW_PASSWORD).
        #[arg(long)]
        new_password_file: Option<PathBuf>,
        #[command(flatten)]
        node: NodeUrl,
    },
    /// Print the current TOTP code for a base32 secret (for scripts; people use an
    /// authenticator app).
    Totp {
        /// The base32 TOTP secret `custodial activate` printed.
        #[arg(long)]
        secret: String,
    },
}

/// Where a password comes from.
#[derive(clap::Args)]
pub struct PasswordArgs {
    /// A file holding the password (else MEDCHAIN_PASSWORD, else a line of standard input).
    #[arg(long)]
    password_file: Option<PathBuf>,
}

fn secret_text(file: Option<&Path>, variable: &str, what: &str) -> anyhow::Result<String> {
    if let Some(file) = file {
        return Ok(std::fs::read_to_string(file)
            .with_context(|| format!("cannot read the {what} file {}", file.display()))?
            .trim_end_matches(['\n', '\r'])
            .to_string());
    }
    if let Ok(value) = std::env::var(variable) {
        return Ok(value);
    }
    eprint!("{what}: ");
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .with_context(|| format!("cannot read the {what} from standard input"))?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

impl PasswordArgs {
    fn read(&self) -> anyhow::Result<String> {
        secret_text(
            self.password_file.as_deref(),
            "MEDCHAIN_PASSWORD",
            "password",
        )
    }
}

const SESSION_FORMAT: &str = "medchain-custodial-session-v1";

/// A signed-in custodial session, saved between commands.
#[derive(Serialize, Deserialize)]
struct SessionFile {
    format: String,
    label: String,
    node: String,
    session: String,
    party: PartyId,
    expires_at: u64,
    secret: String,
}

fn save_session(path: &Path, custodial: &Custodial) -> anyhow::Result<()> {
    let session = custodial.session();
    let file = SessionFile {
        format: SESSION_FORMAT.into(),
        label: "CUSTODIAL SESSION: signs requests as the user to the node that keeps their keys, until it expires or is signed out".into(),
        node: custodial.node().base().to_string(),
        session: session.id.clone(),
        party: session.party,
        expires_at: session.expires_at,
        secret: hex::encode(session.secret()),
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).ok();
    }
    crate::setup::write_private(path, &serde_json::to_string_pretty(&file)?)
        .context("cannot write the session file")
}

fn load_session(path: &Path) -> anyhow::Result<Custodial> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the session file {}", path.display()))?;
    let file: SessionFile = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a custodial session file", path.display()))?;
    if file.format != SESSION_FORMAT {
        bail!("{} is not a {SESSION_FORMAT} file", path.display());
    }
    let secret: [u8; 32] = hex::decode(&file.secret)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .with_context(|| format!("{}: the secret is not 32 hex bytes", path.display()))?;
    Ok(Custodial::resume(
        Client::new(&file.node),
        file.session,
        file.party,
        file.expires_at,
        secret,
    ))
}

/// Whoever signs a command: a party's own keys, or a custodial session.
pub(crate) enum AnyHolder {
    Keys(Box<PartyKeys>),
    Custodial(Box<Custodial>),
}

/// `--as`: a key file, `dev:<name>`, or `custodial:<session file>` (which must be of the node
/// the command talks to).
pub(crate) fn load_holder(spec: &str, node: &NodeUrl) -> anyhow::Result<AnyHolder> {
    let Some(path) = spec.strip_prefix("custodial:") else {
        return Ok(AnyHolder::Keys(Box::new(load_signer(spec)?)));
    };
    let custodial = load_session(Path::new(path))?;
    if custodial.node().base() != node.url.trim_end_matches('/') {
        bail!(
            "the custodial session in {path} was opened on {}; a session works on that node only (pass --node {})",
            custodial.node().base(),
            custodial.node().base()
        );
    }
    Ok(AnyHolder::Custodial(Box::new(custodial)))
}

impl Holder for AnyHolder {
    fn party_id(&self) -> PartyId {
        match self {
            Self::Keys(keys) => keys.party_id(),
            Self::Custodial(custodial) => custodial.party_id(),
        }
    }

    fn request_signer(&self) -> RequestSigner<'_> {
        match self {
            Self::Keys(keys) => keys.request_signer(),
            Self::Custodial(custodial) => custodial.request_signer(),
        }
    }

    async fn sign_tx(
        &self,
        chain: &ChainId,
        nonce: u64,
        body: TxBody,
    ) -> Result<SignedTransaction, ClientError> {
        match self {
            Self::Keys(keys) => keys.sign_tx(chain, nonce, body).await,
            Self::Custodial(custodial) => custodial.sign_tx(chain, nonce, body).await,
        }
    }

    async fn sign_wrapped_key(
        &self,
        record: &RecordId,
        version: u32,
        recipient: &PartyId,
        wrapped: &[u8],
    ) -> Result<Signature, ClientError> {
        match self {
            Self::Keys(keys) => {
                keys.sign_wrapped_key(record, version, recipient, wrapped)
                    .await
            }
            Self::Custodial(custodial) => {
                custodial
                    .sign_wrapped_key(record, version, recipient, wrapped)
                    .await
            }
        }
    }

    async fn unwrap_key(
        &self,
        wrapped: &WrappedKey,
        binding: &Binding,
    ) -> Result<DataKey, RecordsError> {
        match self {
            Self::Keys(keys) => keys.unwrap_key(wrapped, binding).await,
            Self::Custodial(custodial) => custodial.unwrap_key(wrapped, binding).await,
        }
    }
}

fn parse_kind(text: &str) -> anyhow::Result<PartyKind> {
    match text {
        "patient" => Ok(PartyKind::Patient),
        "practitioner" => Ok(PartyKind::Practitioner),
        "device" => Ok(PartyKind::Device),
        other => bail!("--kind must be patient, practitioner or device, not {other:?}"),
    }
}

pub async fn custodial_command(command: CustodialCommand) -> anyhow::Result<()> {
    match command {
        CustodialCommand::Invite {
            username,
            kind,
            label,
            roles,
            signer,
            node,
        } => {
            let client = Client::new(&node.url);
            let organisation = load_signer(&signer)?;
            let invited = custodial::invite(
                &client,
                &organisation,
                &username,
                parse_kind(&kind)?,
                &label,
                crate::commands::parse_roles(&roles)?,
            )
            .await?;
            eprintln!(
                "account {username} opened and its party registered; hand the activation code to the user (it is shown once, and works until {})",
                medchain_types::time::rfc3339(invited.activation_expires_at * 1_000)
            );
            print_json(&serde_json::json!({
                "username": invited.username,
                "party_id": invited.party_id,
                "kind": invited.kind,
                "activation_code": invited.activation_code,
                "activation_expires_at": invited.activation_expires_at,
            }))
        }
        CustodialCommand::List { signer, node } => {
            let client = Client::new(&node.url);
            let organisation = load_signer(&signer)?;
            print_json(&custodial::accounts(&client, &organisation).await?)
        }
        CustodialCommand::Activate {
            username,
            activation_code,
            password,
            node,
        } => {
            let client = Client::new(&node.url);
            let enrolled =
                custodial::activate(&client, &username, &activation_code, &password.read()?)
                    .await?;
            eprintln!(
                "activated. Enrol the TOTP secret in an authenticator app, and keep the recovery code somewhere safe: both are shown once."
            );
            print_json(&enrolled)
        }
        CustodialCommand::SignIn {
            username,
            totp,
            password,
            session_file,
            lifetime,
            node,
        } => {
            let client = Client::new(&node.url);
            let signed_in =
                custodial::sign_in(&client, &username, &password.read()?, &totp, lifetime).await?;
            save_session(&session_file, &signed_in)?;
            eprintln!(
                "signed in as {}; use --as custodial:{} until {}",
                signed_in.party_id(),
                session_file.display(),
                medchain_types::time::rfc3339(signed_in.session().expires_at * 1_000)
            );
            Ok(())
        }
        CustodialCommand::SignOut { session_file } => {
            let custodial = load_session(&session_file)?;
            let ended = custodial.sign_out().await;
            std::fs::remove_file(&session_file).ok();
            match ended {
                Ok(()) => Ok(()),
                // Already over: nothing is held for it any more.
                Err(ClientError::Problem(problem)) if problem.code == "unknown_session" => Ok(()),
                Err(err) => Err(err.into()),
            }
        }
        CustodialCommand::Password {
            username,
            totp,
            password,
            new_password_file,
            node,
        } => {
            let client = Client::new(&node.url);
            let new_password = secret_text(
                new_password_file.as_deref(),
                "MEDCHAIN_NEW_PASSWORD",
                "new password",
            )?;
            custodial::change_password(&client, &username, &password.read()?, &totp, &new_password)
                .await?;
            eprintln!("password changed; open sessions ended");
            Ok(())
        }
        CustodialCommand::Recover {
            username,
            recovery_code,
            new_password_file,
            node,
        } => {
            let client = Client::new(&node.url);
            let new_password = secret_text(
                new_password_file.as_deref(),
                "MEDCHAIN_NEW_PASSWORD",
                "new password",
            )?;
            let enrolled =
                custodial::recover(&client, &username, &recovery_code, &new_password).await?;
            eprintln!(
                "recovered: enrol the new TOTP secret and keep the new recovery code (the old ones no longer work)"
            );
            print_json(&enrolled)
        }
        CustodialCommand::Totp { secret } => {
            let secret =
                totp::base32_decode(&secret).context("the secret is not base32 (A-Z, 2-7)")?;
            println!(
                "{}",
                totp::code(&secret, medchain_node::accounts::AccountStore::now())
            );
            Ok(())
        }
    }
}
