//! # turnstile-macros
//!
//! Route attributes (`#[get("/users/:id")]`, `#[post]`, ..., `#[route]`)
//! and `routes![]`, re-exported by `turnstile`. They are sugar over the
//! builder: an attributed function stays a plain function, and a route
//! table built with them is the same as one built with `App::route_with`.
//!
//! What they check at compile time, with the error on the user's literal:
//! path syntax, regex constraints, duplicate parameters, a `Path` tuple
//! whose arity differs from the pattern's parameter count, unsupported
//! methods, and (in `routes![]`) two routes with the same method and
//! equivalent patterns.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{parse_macro_input, Expr, Ident, ItemFn, LitInt, LitStr, Path, Token};

/// The framework's pattern parser, compiled into the macro from the same
/// source file, so a pattern the macro accepts is exactly one the router
/// accepts.
#[path = "../../framework/src/router/pattern.rs"]
#[allow(dead_code)]
mod pattern;

/// The standard methods a route attribute may name.
const METHODS: &[(&str, &str)] = &[
    ("GET", "Get"),
    ("POST", "Post"),
    ("PUT", "Put"),
    ("PATCH", "Patch"),
    ("DELETE", "Delete"),
    ("HEAD", "Head"),
    ("OPTIONS", "Options"),
    ("TRACE", "Trace"),
    ("CONNECT", "Connect"),
];

/// The settings every route attribute takes after its path, for its
/// rustdoc page.
macro_rules! settings_doc {
    () => {
        r#"

# Path

A pattern as `App::route_with` takes it, checked at compile time: static
segments, `:name` parameters, `{name:regex}` constrained ones, and a final
`*rest` catch-all. A `Path<T>` argument must fit the pattern's parameters
(a tuple with one element per parameter, or one scalar for one).

# Settings

After the path, in any order, each at most once but `wrap`:

- `body_limit = <bytes>`: the most body bytes the handler may read
  (default: the app's, 1 MiB); more is answered `413`.
- `timeout_ms = <ms>`: how long the route may wait for a deferred answer
  or its body; then `503`.
- `wrap = <middleware>`: middleware around this route only (repeatable,
  runs inside the app's middleware, in the order written).

```ignore
#[post("/upload", body_limit = 16 * 1024 * 1024, timeout_ms = 30_000, wrap = Logger)]
fn upload(body: Vec<u8>) -> String { body.len().to_string() }
```

# Checks

Besides the path, each argument and the return type are checked, the
error on the type at fault: an argument that is not an extractor, a body
extractor that is not last, a return type that is not a reply.

The function stays a plain function; `routes![f, g]` mounts it with
`App::mount`.
"#
    };
}

#[doc = concat!("`#[get(\"/path\")]`: a `GET` route (which answers `HEAD` too).", settings_doc!())]
#[proc_macro_attribute]
pub fn get(attr: TokenStream, item: TokenStream) -> TokenStream {
    with_method("GET", attr, item)
}

#[doc = concat!("`#[post(\"/path\")]`: a `POST` route.", settings_doc!())]
#[proc_macro_attribute]
pub fn post(attr: TokenStream, item: TokenStream) -> TokenStream {
    with_method("POST", attr, item)
}

#[doc = concat!("`#[put(\"/path\")]`: a `PUT` route.", settings_doc!())]
#[proc_macro_attribute]
pub fn put(attr: TokenStream, item: TokenStream) -> TokenStream {
    with_method("PUT", attr, item)
}

#[doc = concat!("`#[patch(\"/path\")]`: a `PATCH` route.", settings_doc!())]
#[proc_macro_attribute]
pub fn patch(attr: TokenStream, item: TokenStream) -> TokenStream {
    with_method("PATCH", attr, item)
}

#[doc = concat!("`#[delete(\"/path\")]`: a `DELETE` route.", settings_doc!())]
#[proc_macro_attribute]
pub fn delete(attr: TokenStream, item: TokenStream) -> TokenStream {
    with_method("DELETE", attr, item)
}

#[doc = concat!("`#[head(\"/path\")]`: a `HEAD` route of its own (a `GET` route answers `HEAD` already).", settings_doc!())]
#[proc_macro_attribute]
pub fn head(attr: TokenStream, item: TokenStream) -> TokenStream {
    with_method("HEAD", attr, item)
}

#[doc = concat!("`#[options(\"/path\")]`: an `OPTIONS` route of its own (the app answers `OPTIONS` with `Allow` already).", settings_doc!())]
#[proc_macro_attribute]
pub fn options(attr: TokenStream, item: TokenStream) -> TokenStream {
    with_method("OPTIONS", attr, item)
}

#[doc = concat!("`#[route(GET, POST, path = \"/path\")]`: several methods on one route (the methods first, then `path = `).", settings_doc!())]
#[proc_macro_attribute]
pub fn route(attr: TokenStream, item: TokenStream) -> TokenStream {
    let args = parse_macro_input!(attr as RouteArgs);
    let function = parse_macro_input!(item as ItemFn);
    expand_or_keep(args.methods, args.path, args.settings, function)
}

/// The expansion, or the error beside the untouched function, so one
/// mistake does not bring a cascade of others (unused imports, missing
/// functions).
fn expand_or_keep(
    methods: Vec<(String, Span)>,
    path: LitStr,
    settings: Settings,
    function: ItemFn,
) -> TokenStream {
    match expand(methods, path, settings, function.clone()) {
        Ok(tokens) => tokens.into(),
        Err(e) => {
            let error = e.into_compile_error();
            quote!(#error #function).into()
        }
    }
}

fn with_method(method: &str, attr: TokenStream, item: TokenStream) -> TokenStream {
    let args = parse_macro_input!(attr as MethodArgs);
    let function = parse_macro_input!(item as ItemFn);
    let methods = vec![(method.to_owned(), Span::call_site())];
    expand_or_keep(methods, args.path, args.settings, function)
}

/// Per-route settings after the path.
#[derive(Default)]
struct Settings {
    body_limit: Option<Expr>,
    timeout_ms: Option<LitInt>,
    wrap: Vec<Expr>,
}

impl Settings {
    fn parse_one(&mut self, input: ParseStream<'_>) -> syn::Result<()> {
        let key: Ident = input.parse()?;
        input.parse::<Token![=]>()?;
        match key.to_string().as_str() {
            "body_limit" => self.body_limit = Some(input.parse()?),
            "timeout_ms" => self.timeout_ms = Some(input.parse()?),
            "wrap" => self.wrap.push(input.parse()?),
            other => {
                return Err(syn::Error::new(
                    key.span(),
                    format!("unknown route setting `{other}`; expected `body_limit`, `timeout_ms` or `wrap`"),
                ))
            }
        }
        Ok(())
    }

    fn expr(&self) -> TokenStream2 {
        let mut settings = quote!(::turnstile::RouteSettings::default());
        if let Some(limit) = &self.body_limit {
            settings = quote!(#settings.body_limit(#limit));
        }
        if let Some(ms) = &self.timeout_ms {
            settings = quote!(#settings.timeout(::std::time::Duration::from_millis(#ms)));
        }
        for middleware in &self.wrap {
            settings = quote!(#settings.wrap(#middleware));
        }
        settings
    }
}

/// `("/path", setting = value, ...)`
struct MethodArgs {
    path: LitStr,
    settings: Settings,
}

impl Parse for MethodArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.is_empty() {
            return Err(input.error("expected the route's path, as in #[get(\"/users/:id\")]"));
        }
        let path: LitStr = input.parse()?;
        let mut settings = Settings::default();
        while !input.is_empty() {
            input.parse::<Token![,]>()?;
            if input.is_empty() {
                break;
            }
            settings.parse_one(input)?;
        }
        Ok(MethodArgs { path, settings })
    }
}

/// `(GET, POST, path = "/path", setting = value, ...)`
struct RouteArgs {
    methods: Vec<(String, Span)>,
    path: LitStr,
    settings: Settings,
}

impl Parse for RouteArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut methods = Vec::new();
        let mut path = None;
        let mut settings = Settings::default();
        while !input.is_empty() {
            if input.peek(Ident) && input.peek2(Token![=]) {
                let fork = input.fork();
                let key: Ident = fork.parse()?;
                if key == "path" {
                    input.parse::<Ident>()?;
                    input.parse::<Token![=]>()?;
                    path = Some(input.parse::<LitStr>()?);
                } else {
                    settings.parse_one(input)?;
                }
            } else {
                let method: Ident = input.parse()?;
                methods.push((method.to_string(), method.span()));
            }
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        if methods.is_empty() {
            return Err(
                input.error("name at least one method, as in #[route(GET, POST, path = \"/x\")]")
            );
        }
        let path = path.ok_or_else(|| input.error("missing `path = \"...\"`"))?;
        Ok(RouteArgs {
            methods,
            path,
            settings,
        })
    }
}

fn expand(
    methods: Vec<(String, Span)>,
    path: LitStr,
    settings: Settings,
    function: ItemFn,
) -> syn::Result<TokenStream2> {
    let mut variants = Vec::new();
    let mut names = Vec::new();
    for (method, span) in &methods {
        let Some((_, variant)) = METHODS.iter().find(|(m, _)| m == method) else {
            let known: Vec<&str> = METHODS.iter().map(|(m, _)| *m).collect();
            return Err(syn::Error::new(
                *span,
                format!(
                    "unsupported method `{method}`; use one of {}",
                    known.join(", ")
                ),
            ));
        };
        if names.contains(method) {
            return Err(syn::Error::new(
                *span,
                format!("method `{method}` is named twice"),
            ));
        }
        variants.push(Ident::new(variant, *span));
        names.push(method.clone());
    }
    let pattern = path.value();
    let segments = pattern::parse(&pattern)
        .map_err(|e| syn::Error::new(path.span(), format!("invalid route path: {}", e.reason)))?;
    let params = segments
        .iter()
        .filter(|s| !matches!(s, pattern::Segment::Static(_)))
        .count();
    check_path_arity(&function, params, &pattern)?;

    let name = &function.sig.ident;
    let vis = &function.vis;
    let settings = settings.expr();
    let checks = handler_checks(&function);
    Ok(quote! {
        #function

        #checks

        #[allow(non_camel_case_types)]
        #[doc(hidden)]
        #vis struct #name {}

        impl ::turnstile::macros::Route for #name {
            const METHODS: &'static [&'static str] = &[#(#names),*];
            const PATTERN: &'static str = #path;

            fn mount(app: ::turnstile::App) -> ::turnstile::App {
                app.route_with(
                    &[#(::turnstile::Method::#variants),*],
                    #path,
                    #name,
                    #settings,
                )
            }
        }
    })
}

/// `#[handler]`: checks a plain function is a handler, with each error on
/// the argument or return type at fault (an argument that is not an
/// extractor, a body extractor that is not last, a return type that is not
/// a reply), instead of one message about the whole function at the route
/// that uses it. The route attributes run the same checks.
///
/// ```ignore
/// #[turnstile::handler]
/// fn create(db: State<Db>, Json(new): Json<NewUser>) -> (StatusCode, Json<User>) { ... }
/// ```
#[proc_macro_attribute]
pub fn handler(attr: TokenStream, item: TokenStream) -> TokenStream {
    let function = parse_macro_input!(item as ItemFn);
    if !attr.is_empty() {
        let error = syn::Error::new(
            TokenStream2::from(attr).span(),
            "#[handler] takes no arguments",
        )
        .into_compile_error();
        return quote!(#error #function).into();
    }
    let checks = handler_checks(&function);
    quote!(#function #checks).into()
}

/// One compile-time check per argument and for the return type, each
/// spanned on the user's type, so the trait error lands there.
fn handler_checks(function: &ItemFn) -> TokenStream2 {
    // Generic handlers name types the check could not; the route's own
    // bound still checks them.
    if !function.sig.generics.params.is_empty() {
        return TokenStream2::new();
    }
    let types: Vec<&syn::Type> = function
        .sig
        .inputs
        .iter()
        .filter_map(|input| match input {
            syn::FnArg::Typed(arg) => Some(&*arg.ty),
            syn::FnArg::Receiver(_) => None,
        })
        .collect();
    let mut checks = Vec::new();
    for (i, ty) in types.iter().enumerate() {
        let check = if i + 1 == types.len() {
            quote_spanned!(ty.span()=> ::turnstile::macros::last_extractor::<_, #ty>();)
        } else {
            quote_spanned!(ty.span()=> ::turnstile::macros::head_extractor::<#ty>();)
        };
        checks.push(check);
    }
    if let syn::ReturnType::Type(_, ty) = &function.sig.output {
        if !matches!(**ty, syn::Type::ImplTrait(_)) {
            checks.push(quote_spanned!(ty.span()=> ::turnstile::macros::reply::<#ty>();));
        }
    }
    if checks.is_empty() {
        return TokenStream2::new();
    }
    quote! {
        const _: () = {
            #(#checks)*
        };
    }
}

/// Types a `Path<T>` reads from exactly one parameter.
const SCALARS: &[&str] = &[
    "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize", "f32",
    "f64", "bool", "char", "String",
];

/// A `Path<(A, B)>` argument must have as many elements as the pattern has
/// parameters; a `Path<u64>` exactly one.
fn check_path_arity(function: &ItemFn, params: usize, pattern: &str) -> syn::Result<()> {
    for input in &function.sig.inputs {
        let syn::FnArg::Typed(arg) = input else {
            continue;
        };
        let syn::Type::Path(ty) = &*arg.ty else {
            continue;
        };
        let Some(last) = ty.path.segments.last() else {
            continue;
        };
        if last.ident != "Path" {
            continue;
        }
        let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
            continue;
        };
        let Some(syn::GenericArgument::Type(inner)) = args.args.first() else {
            continue;
        };
        let expected = match inner {
            syn::Type::Tuple(tuple) => Some(tuple.elems.len()),
            syn::Type::Path(p)
                if p.path.segments.len() == 1
                    && SCALARS.iter().any(|s| p.path.segments[0].ident == s) =>
            {
                Some(1)
            }
            _ => None,
        };
        if let Some(expected) = expected {
            if expected != params {
                return Err(syn::Error::new(
                    inner.span(),
                    format!(
                        "`Path` takes {expected} value{} but {pattern:?} has {params} parameter{}",
                        if expected == 1 { "" } else { "s" },
                        if params == 1 { "" } else { "s" },
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// `routes![a, b, module::c]`: the routes made by route attributes, for
/// `App::mount`. Two routes with a common method and equivalent patterns
/// fail to compile, with the error on the later one.
#[proc_macro]
pub fn routes(input: TokenStream) -> TokenStream {
    let paths = parse_macro_input!(input with Punctuated::<Path, Token![,]>::parse_terminated);
    let paths: Vec<&Path> = paths.iter().collect();
    let mut checks = Vec::new();
    for (i, path) in paths.iter().enumerate() {
        let earlier = &paths[..i];
        if earlier.is_empty() {
            continue;
        }
        let earlier = earlier.iter().map(|p| {
            quote!((<#p as ::turnstile::macros::Route>::METHODS, <#p as ::turnstile::macros::Route>::PATTERN))
        });
        checks.push(quote_spanned! {path.span()=>
            const _: () = ::turnstile::macros::check_route(
                &[#(#earlier),*],
                <#path as ::turnstile::macros::Route>::METHODS,
                <#path as ::turnstile::macros::Route>::PATTERN,
            );
        });
    }
    let mounts = paths
        .iter()
        .map(|p| quote!(<#p as ::turnstile::macros::Route>::mount as fn(::turnstile::App) -> ::turnstile::App));
    quote!({
        #(#checks)*
        ::turnstile::macros::Routes::new(::std::vec![#(#mounts),*])
    })
    .into()
}
