//! `satchel demo --compat express|koa|koa-generic`: the demo in express-session +
//! connect-redis format, in koa-session's cookie format, or in koa-generic-session +
//! koa-redis format, so a Node app on the same domain (and, for Express and
//! koa-generic-session, the same Redis) shares its sessions.

use anyhow::Context as _;
use satchel::{Engine, SessionConfigBuilder, Stateless};
use satchel_connect::keygrip::Keygrip;
use satchel_connect::koa::KoaCookies;
use satchel_connect::koa_generic::{KoaGenericIds, KoaGenericRedisOptions, KoaGenericRedisStore};
use satchel_connect::{ConnectRedisOptions, ConnectRedisStore, ExpressIds};

use crate::cli::{Compat, DemoArgs};
use crate::store_url::StoreUrl;

/// express-session's default cookie name.
const EXPRESS_COOKIE: &str = "connect.sid";
/// koa-session's default cookie name.
const KOA_COOKIE: &str = "koa.sess";
/// koa-generic-session's default cookie name.
const KOA_GENERIC_COOKIE: &str = satchel_connect::koa_generic::DEFAULT_KEY;

/// Usage errors, found before anything starts (exit code 2).
pub(crate) fn check_compat(args: &DemoArgs, store: &StoreUrl) -> Result<(), String> {
    match args.compat {
        None if !args.secrets.is_empty() || !args.keys.is_empty() => {
            Err("--secret and --keys only apply with --compat".into())
        }
        None => Ok(()),
        Some(Compat::Express) => {
            if args.secrets.is_empty() {
                return Err("--compat express needs --secret (the express-session secret)".into());
            }
            match store {
                StoreUrl::Redis(url) if url.starts_with("redis://") => Ok(()),
                _ => Err("--compat express needs a redis:// store (connect-redis's Redis)".into()),
            }
        }
        Some(Compat::Koa) if args.keys.iter().all(String::is_empty) => {
            Err("--compat koa needs --keys K1,K2 (Koa's app.keys)".into())
        }
        Some(Compat::Koa) => Ok(()),
        Some(Compat::KoaGeneric) if args.keys.iter().all(String::is_empty) => {
            Err("--compat koa-generic needs --keys K1,K2 (Koa's app.keys)".into())
        }
        Some(Compat::KoaGeneric) => match store {
            StoreUrl::Redis(url) if url.starts_with("redis://") => Ok(()),
            _ => Err("--compat koa-generic needs a redis:// store (koa-redis's Redis)".into()),
        },
    }
}

pub(crate) async fn engine(
    compat: Compat,
    args: &DemoArgs,
    store: &StoreUrl,
    config: SessionConfigBuilder,
) -> anyhow::Result<Engine> {
    if compat == Compat::Koa {
        let keys = Keygrip::new(args.keys.iter().filter(|k| !k.is_empty()))
            .map_err(|_| anyhow::anyhow!("--keys is empty"))?;
        let config = config
            .cookie_name(KOA_COOKIE)
            .build()
            .context("session configuration")?;
        tracing::info!(
            "koa-session compatible: cookies {KOA_COOKIE} + {KOA_COOKIE}.sig (signed, readable \
             base64 JSON as Koa writes them); --store is not used in this mode"
        );
        return Ok(Engine::stateless(
            Stateless::new(KoaCookies::new(keys)),
            config,
        ));
    }
    let StoreUrl::Redis(url) = store else {
        anyhow::bail!(
            "--compat express and koa-generic need a redis:// store (checked before start)"
        );
    };
    if compat == Compat::KoaGeneric {
        let keys = Keygrip::new(args.keys.iter().filter(|k| !k.is_empty()))
            .map_err(|_| anyhow::anyhow!("--keys is empty"))?;
        let config = config
            .cookie_name(KOA_GENERIC_COOKIE)
            .build()
            .context("session configuration")?;
        let shown = store.redacted();
        let store = KoaGenericRedisStore::connect(url, KoaGenericRedisOptions::default())
            .await
            .with_context(|| format!("connecting to koa-redis's Redis at {shown}"))?;
        tracing::info!(
            store = %shown,
            "koa-generic-session compatible: cookies {KOA_GENERIC_COOKIE} + {KOA_GENERIC_COOKIE}.sig, records koa:sess:<sid> (ids stored raw, as koa-redis does)"
        );
        return Ok(Engine::with_id_format(
            store,
            config,
            KoaGenericIds::new(keys),
        ));
    }
    let config = config
        .cookie_name(EXPRESS_COOKIE)
        .build()
        .context("session configuration")?;
    let ids = ExpressIds::new(args.secrets.clone()).context("express-session secrets")?;
    let shown = store.redacted();
    let store = ConnectRedisStore::connect(url, ConnectRedisOptions::default())
        .await
        .with_context(|| format!("connecting to connect-redis's Redis at {shown}"))?;
    tracing::info!(
        store = %shown,
        "express-session compatible: cookie {EXPRESS_COOKIE}, records sess:<id> (ids stored raw, as connect-redis does)"
    );
    Ok(Engine::with_id_format(store, config, ids))
}
