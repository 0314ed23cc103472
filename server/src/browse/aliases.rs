//! Moving and removing aliases. Each move of one alias runs under that
//! alias's lock, so its `alias_moved` record names the version the alias
//! really left and is durable before the alias record changes (see
//! [`crate::registry::aliases`]). Moving an alias to the version it already
//! names changes nothing and records nothing.

use coffer_app::models::api::AliasMoved;
use coffer_app::names::validate_model_name;
use coffer_app::upload::api::VersionState;

use super::{Browse, ChangeError};
use crate::audit::{Action, AuditEvent, Outcome};
use crate::error::ApiError;
use crate::registry::Touch;
use crate::registry::aliases::{self, AliasLock};
use crate::storage::records::UpdateError;
use crate::uploads::Caller;

impl Browse {
    /// Points `alias` at an available version of the model.
    pub async fn move_alias(
        &self,
        caller: Caller<'_>,
        model: &str,
        alias: &str,
        version: u64,
    ) -> Result<AliasMoved, ChangeError> {
        check_alias(alias)?;
        self.require_model(model).await?;

        // Only an available version can be pointed at; versions never
        // change, so this holds after the check too.
        let Some(manifest) = self.registry.version(model, version).await? else {
            return Err(ChangeError::NotFound(format!(
                "{model} has no finished version {version}"
            )));
        };
        if manifest.state != VersionState::Available {
            return Err(ApiError::Conflict(format!(
                "version {version} of {model} failed; an alias can only point at an available version"
            ))
            .into());
        }

        self.change_alias(caller, model, alias, Some(version)).await
    }

    /// Removes `alias` from the model.
    pub async fn remove_alias(
        &self,
        caller: Caller<'_>,
        model: &str,
        alias: &str,
    ) -> Result<AliasMoved, ChangeError> {
        check_alias(alias)?;
        self.require_model(model).await?;
        self.change_alias(caller, model, alias, None).await
    }

    /// Takes the alias's lock, changes the alias and gives the lock back,
    /// whatever happened.
    async fn change_alias(
        &self,
        caller: Caller<'_>,
        model: &str,
        alias: &str,
        to: Option<u64>,
    ) -> Result<AliasMoved, ChangeError> {
        let lock = AliasLock::acquire(&self.storage, self.clock.as_ref(), model, alias)
            .await?
            .map_err(|busy| ApiError::ServiceUnavailable(busy.to_string()))?;
        let result = self.change_locked(caller, model, alias, to).await;
        lock.release(&self.storage).await;
        let moved = result?;

        // The listing's "updated" order follows; the move itself is done.
        if moved.from != moved.to
            && let Err(error) = self
                .registry
                .touch(model, self.clock.now(), &Touch::Other)
                .await
        {
            tracing::warn!(model.name = %model, error = %format!("{error:#}"), "could not update the model's profile after an alias move");
        }
        Ok(moved)
    }

    /// Reads where the alias points, records the move, then makes it.
    async fn change_locked(
        &self,
        caller: Caller<'_>,
        model: &str,
        alias: &str,
        to: Option<u64>,
    ) -> Result<AliasMoved, ChangeError> {
        let from = aliases::read(&self.storage, model)
            .await?
            .get(alias)
            .copied();
        let moved = AliasMoved {
            alias: alias.to_owned(),
            from,
            to,
        };

        // Nothing to do: moving to where it is, or removing what is not
        // there.
        if from == to {
            return match to {
                Some(_) => Ok(moved),
                None => Err(ChangeError::NotFound(format!(
                    "{model} has no alias {alias}"
                ))),
            };
        }

        // The record is durable before the alias moves.
        let detail = match to {
            Some(_) => "alias moved",
            None => "alias removed",
        };
        let event = AuditEvent::new(
            &caller.user.username,
            Action::AliasMoved,
            Outcome::Success,
            caller.request_id,
        )
        .with_model(model)
        .with_alias(alias, from, to)
        .with_detail(detail);
        self.audit.record(event).await?;

        match aliases::swap(&self.storage, model, alias, from, to).await {
            Ok(()) => {}
            Err(UpdateError::Refused(changed)) => {
                return Err(ApiError::Conflict(changed.to_string()).into());
            }
            Err(UpdateError::Storage(error)) => return Err(error.into()),
        }
        tracing::info!(
            model.name = %model,
            alias.name = %alias,
            alias.from = ?from,
            alias.to = ?to,
            "alias moved"
        );
        Ok(moved)
    }
}

/// Aliases follow the rule for model names.
fn check_alias(alias: &str) -> Result<(), ApiError> {
    validate_model_name(alias)
        .map_err(|error| ApiError::BadRequest(format!("invalid alias: {error}")))
}
