//! The application pages of a signed-in person: `GET /apps` lists their
//! apps; `GET/POST /apps/new` registers one; `GET/POST /apps/{client_id}`
//! shows and edits one (`action=save`), makes it a new secret and deletes
//! it, each after a confirmation step (`action=rotate` asks,
//! `action=confirm_rotate` makes it; `action=delete` asks,
//! `action=confirm_delete` deletes).
//!
//! The registration form is safe to submit twice (a reload, a double
//! click): it carries a random `form_id`, and the app's client id is
//! derived from it, the person and the server secret (`form_client_id`),
//! so a second submission's insert collides with the first's on the
//! clients' primary key, in the database every instance shares, and
//! shows the app registered the first time, without its secret.
//!
//! A person sees and changes only the apps they registered
//! (`Client.owner`); an admin sees and manages every app, and the list says
//! whose each is. Another person's app answers exactly like an unknown id
//! (404, the same page), so ids are not confirmed. A secret is shown once,
//! in the answer to the POST that made it, never in a URL. The rules of a
//! registration are the registry's (`registry::clients`), the same as for the CLI and `POST /register`;
//! this page adds only which scopes and grant types a person may pick.

//!
//! `form.rs` is the form and the page's own rules, `view.rs` an app as the
//! pages show it.

mod form;
mod view;

use self::form::{form_view, kind, spec_from, AppForm, FieldError, FormView, LISTS};
use self::view::{app_href, examples, owner_for, owner_label, AppView, Examples};
use super::filters;
use super::session::SignedIn;
use super::{
    parse_form_with_lists, render, render_form, see_other, session, sign_in_first, PageError,
};
use crate::app::AppState;
use crate::crypto::random_token;
use crate::oauth::wire::{max_len, Form};
use crate::registry::clients::RegistrationTokens;
use crate::registry::{NewClient, RegistryError};
use crate::store::models::{Client, User};
use crate::store::StoreError;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use std::collections::HashMap;

/// What a failed registration or edit shows: a field error beside its
/// field, anything else above the form; the database's failures are the
/// page's.
fn shown_error(e: RegistryError) -> Result<FieldError, PageError> {
    match e {
        RegistryError::Field { field, message } => Ok(FieldError::new(field, message)),
        RegistryError::Invalid(message) => Ok(FieldError::new("", message)),
        RegistryError::NotFound(_) => Err(no_such_app()),
        RegistryError::Store(e) => Err(e.into()),
        RegistryError::TokenRefused => Err(PageError::Internal(
            "an initial access token was asked of a page registration".into(),
        )),
    }
}

/// The same answer for an unknown id and for another person's app.
fn no_such_app() -> PageError {
    PageError::NotFound("There is no such app among yours. Your apps are listed at /apps.".into())
}

fn may_manage(me: &User, client: &Client) -> bool {
    me.is_admin || client.owner.as_deref() == Some(me.id.as_str())
}

/// The app `id`, when this person may see it.
async fn load_managed(state: &AppState, me: &SignedIn, id: String) -> Result<Client, PageError> {
    // A NUL or an over-long id names no client; it is never queried.
    if id.is_empty() || id.contains('\0') || id.len() > max_len("client_id") {
        return Err(no_such_app());
    }
    let found = state.store.run(move |c| c.find_client(&id)).await?;
    match found {
        Some(c) if may_manage(&me.user, &c) => Ok(c),
        _ => Err(no_such_app()),
    }
}

#[derive(Template)]
#[template(path = "apps.html")]
struct ListPage<'a> {
    username: &'a str,
    admin: bool,
    apps: Vec<AppView>,
    deleted: bool,
}

#[derive(Template)]
#[template(path = "app_new.html")]
struct NewPage {
    csrf: String,
    /// This form's one registration (`form_client_id`).
    form_id: String,
    fields: FormView,
}

/// The form field that makes a registration form single-use.
const FORM_ID: &str = "form_id";

/// A `form_id` gatehouse could have made: 22 base64url characters.
fn well_formed_form_id(v: &str) -> bool {
    v.len() == 22
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The client id a registration form registers under: an HMAC of the
/// form's random `form_id` and the person, under the server secret, shaped
/// as a UUID. The same form posted again names the same id (and collides);
/// another person's, or a new form, never does; and nobody without the
/// server secret can tell an app's id from its form or the other way round.
fn form_client_id(state: &AppState, owner: &str, form_id: &str) -> String {
    let mac = state.server_secret.mac(&[
        b"gatehouse-app-form-v1",
        owner.as_bytes(),
        form_id.as_bytes(),
    ]);
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&mac[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

#[derive(Template)]
#[template(path = "app_created.html")]
struct CreatedPage {
    app: AppView,
    secret: Option<String>,
    examples: Examples,
}

#[derive(Template)]
#[template(path = "app.html")]
struct AppPage {
    csrf: String,
    app: AppView,
    fields: FormView,
    /// A secret made just now, shown this once.
    new_secret: Option<String>,
    notice: Notice,
    examples: Examples,
}

/// What the app page reports, after a redirect to it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Notice {
    None,
    /// The edit was saved.
    Saved,
    /// The registration form was posted again; this is the app it
    /// registered the first time.
    RegisteredBefore,
}

#[derive(Template)]
#[template(path = "app_delete.html")]
struct DeletePage {
    csrf: String,
    app: AppView,
}

#[derive(Template)]
#[template(path = "app_rotate.html")]
struct RotatePage {
    csrf: String,
    app: AppView,
}

#[derive(serde::Deserialize)]
pub struct ListQuery {
    deleted: Option<String>,
}

/// `GET /apps`: the apps this person registered; for an admin, every app
/// and whose it is.
pub async fn list(
    req: HttpRequest,
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let Some(me) = session::current(&req, &state).await? else {
        return Ok(sign_in_first("/apps"));
    };
    let admin = me.user.is_admin;
    let uid = me.user.id.clone();
    let (clients, names) = state
        .store
        .run(move |c| -> Result<_, StoreError> {
            if admin {
                let names: HashMap<String, String> = c
                    .list_users()?
                    .into_iter()
                    .map(|u| (u.id, u.username))
                    .collect();
                Ok((c.list_clients()?, names))
            } else {
                Ok((c.list_clients_owned_by(&uid)?, HashMap::new()))
            }
        })
        .await?;
    let apps = clients
        .iter()
        .map(|c| {
            let owner = admin.then(|| owner_label(c.owner.as_deref(), &names));
            AppView::of(c, owner)
        })
        .collect();
    Ok(render(
        &state,
        StatusCode::OK,
        &ListPage {
            username: &me.user.username,
            admin,
            apps,
            deleted: query.deleted.is_some(),
        },
    ))
}

fn new_page(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    form_id: String,
    fields: FormView,
) -> HttpResponse {
    render_form(req, state, status, |csrf| NewPage {
        csrf,
        form_id,
        fields,
    })
}

/// `GET /apps/new`: the registration form.
pub async fn new_form(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let Some(me) = session::current(&req, &state).await? else {
        return Ok(sign_in_first("/apps/new"));
    };
    let fields = form_view(&state, &me.user, AppForm::fresh(), None, None);
    Ok(new_page(
        &req,
        &state,
        StatusCode::OK,
        random_token(16),
        fields,
    ))
}

/// `POST /apps/new`: registers the app and shows its id and (confidential
/// apps) its secret, once, in this answer (201, `no-store`). The same form
/// posted again (a reload, a double click) registers nothing more: it
/// continues to the app registered the first time, whose secret is not
/// shown again.
pub async fn create(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let form = parse_form_with_lists(&req, &state, &body, LISTS)?;
    let Some(me) = session::current(&req, &state).await? else {
        return Ok(sign_in_first("/apps/new"));
    };
    let Some(form_id) = form.get(FORM_ID).filter(|v| well_formed_form_id(v)) else {
        return Err(PageError::BadRequest(
            "This form is out of date. Open “Register an app” again and fill it in.".into(),
        ));
    };
    let client_id = form_client_id(&state, &me.user.id, form_id);
    let values = AppForm::from_post(&form);
    let refused = |values: AppForm, e: FieldError| {
        let fields = form_view(&state, &me.user, values, Some(e), None);
        Ok(new_page(
            &req,
            &state,
            StatusCode::BAD_REQUEST,
            form_id.to_string(),
            fields,
        ))
    };
    let spec = match spec_from(&state, &me.user, &values, None) {
        Ok(spec) => spec,
        Err(e) => return refused(values, e),
    };
    let who = crate::app::audit::person(&req, &me.user.id);
    match state
        .registry()
        .acting(&who)
        .register_client_as(client_id.clone(), spec, RegistrationTokens::default())
        .await
    {
        Err(RegistryError::Store(StoreError::Conflict(_))) => {
            // This form registered its app already: show that one.
            let app = load_managed(&state, &me, client_id).await?;
            Ok(see_other(&format!("{}?registered=1", app_href(&app.id))))
        }
        Ok(created) => {
            tracing::info!(client_id = %created.client.id, owner = %me.user.id, "app registered on the application pages");
            let owner = me.user.is_admin.then(|| me.user.username.clone());
            Ok(render(
                &state,
                StatusCode::CREATED,
                &CreatedPage {
                    examples: examples(&state, &created.client),
                    app: AppView::of(&created.client, owner),
                    secret: created.secret,
                },
            ))
        }
        Err(e) => refused(values, shown_error(e)?),
    }
}

#[derive(serde::Deserialize)]
pub struct ShowQuery {
    saved: Option<String>,
    /// Came here from a registration form posted a second time.
    registered: Option<String>,
}

#[allow(clippy::too_many_arguments)]
fn app_page(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    me: &User,
    client: &Client,
    owner: Option<String>,
    values: AppForm,
    error: Option<FieldError>,
    new_secret: Option<String>,
    notice: Notice,
) -> HttpResponse {
    let fields = form_view(state, me, values, error, Some(client));
    render_form(req, state, status, |csrf| AppPage {
        csrf,
        app: AppView::of(client, owner),
        fields,
        new_secret,
        notice,
        examples: examples(state, client),
    })
}

/// `GET /apps/{client_id}`: the app, its edit form, and the buttons to make
/// a new secret and to delete it.
pub async fn show(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<ShowQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let Some(me) = session::current(&req, &state).await? else {
        return Ok(sign_in_first(req.path()));
    };
    let client = load_managed(&state, &me, path.into_inner()).await?;
    let owner = owner_for(&state, &me.user, &client).await?;
    Ok(app_page(
        &req,
        &state,
        StatusCode::OK,
        &me.user,
        &client,
        owner,
        AppForm::from_client(&client),
        None,
        None,
        match (query.saved.is_some(), query.registered.is_some()) {
            (_, true) => Notice::RegisteredBefore,
            (true, false) => Notice::Saved,
            (false, false) => Notice::None,
        },
    ))
}

/// `POST /apps/{client_id}` with `action=save|rotate|delete|confirm_delete`.
pub async fn act(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let form = parse_form_with_lists(&req, &state, &body, LISTS)?;
    let Some(me) = session::current(&req, &state).await? else {
        return Ok(sign_in_first(req.path()));
    };
    let client = load_managed(&state, &me, path.into_inner()).await?;
    let owner = owner_for(&state, &me.user, &client).await?;
    match form.get("action") {
        Some("save") => save(&req, &state, &me.user, client, owner, &form).await,
        Some("rotate") if !client.is_public => {
            Ok(render_form(&req, &state, StatusCode::OK, |csrf| {
                RotatePage {
                    csrf,
                    app: AppView::of(&client, owner),
                }
            }))
        }
        Some("rotate" | "confirm_rotate") => {
            if client.is_public {
                return Err(PageError::BadRequest(
                    "A public app has no secret to replace.".into(),
                ));
            }
            let who = crate::app::audit::person(&req, &me.user.id);
            let secret = match state
                .registry()
                .acting(&who)
                .rotate_client_secret(&client.id)
                .await
            {
                Ok(s) => s,
                Err(RegistryError::NotFound(_)) => return Err(no_such_app()),
                Err(e) => return Err(PageError::Internal(e.to_string())),
            };
            tracing::info!(client_id = %client.id, by = %me.user.id, "app secret replaced on the application pages");
            Ok(app_page(
                &req,
                &state,
                StatusCode::OK,
                &me.user,
                &client,
                owner,
                AppForm::from_client(&client),
                None,
                Some(secret),
                Notice::None,
            ))
        }
        Some("delete") => Ok(render_form(&req, &state, StatusCode::OK, |csrf| {
            DeletePage {
                csrf,
                app: AppView::of(&client, owner),
            }
        })),
        Some("confirm_delete") => {
            // One transaction: the app, and through foreign keys its
            // refresh token families, consents and codes.
            let who = crate::app::audit::person(&req, &me.user.id);
            match state
                .registry()
                .acting(&who)
                .delete_client(&client.id)
                .await
            {
                Ok(()) => {}
                Err(RegistryError::NotFound(_)) => return Err(no_such_app()),
                Err(RegistryError::Store(e)) => return Err(e.into()),
                Err(e) => return Err(PageError::Internal(e.to_string())),
            }
            tracing::info!(client_id = %client.id, by = %me.user.id, "app deleted on the application pages");
            Ok(see_other("/apps?deleted=1"))
        }
        _ => Err(PageError::BadRequest(
            "Choose what to do with the app: save, make a new secret or delete.".into(),
        )),
    }
}

/// `action=save`: the edit form, checked like a registration; the type,
/// id, secret and owner stay.
async fn save(
    req: &HttpRequest,
    state: &AppState,
    me: &User,
    client: Client,
    owner: Option<String>,
    form: &Form,
) -> Result<HttpResponse, PageError> {
    let values = AppForm {
        client_type: kind(&client).into(),
        ..AppForm::from_post(form)
    };
    let refused = |values: AppForm, e: FieldError| {
        Ok(app_page(
            req,
            state,
            StatusCode::BAD_REQUEST,
            me,
            &client,
            owner.clone(),
            values,
            Some(e),
            None,
            Notice::None,
        ))
    };
    let spec = match spec_from(state, me, &values, Some(&client)) {
        // The owner stays whoever it was (an admin editing another's app).
        Ok(spec) => NewClient {
            owner: client.owner.clone(),
            ..spec
        },
        Err(e) => return refused(values, e),
    };
    let who = crate::app::audit::person(req, &me.id);
    match state
        .registry()
        .acting(&who)
        .update_client(&client.id, spec)
        .await
    {
        Ok(_) => Ok(see_other(&format!("{}?saved=1", app_href(&client.id)))),
        Err(e) => refused(values, shown_error(e)?),
    }
}
