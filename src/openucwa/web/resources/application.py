"""applications (POST), application (GET, DELETE) and its embedded dashboards:
me (+ makeMeAvailable), people, onlineMeetings, communication; and the policies resource."""

from __future__ import annotations

from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import Response

from openucwa.domain.applications import (
    COMMUNICATION_SETTINGS,
    Application,
    ApplicationInput,
    AvailabilityInput,
    checked_settings,
)
from openucwa.domain.errors import NotFound
from openucwa.domain.users import User, parse_sip_uri
from openucwa.representation.resource import Link, MethodMetadata, OptionsMetadata, Resource
from openucwa.web.body import read_body, read_input
from openucwa.web.context import services
from openucwa.web.guard import application_of
from openucwa.web.links import Links
from openucwa.web.resources.my_presence import MY_LINKS
from openucwa.web.resources.online_meetings import represent_dashboard
from openucwa.web.respond import empty, parse_if_match, render, render_options
from openucwa.web.security import authenticate

PEOPLE_LINKS = (
    ("presenceSubscriptions", "presenceSubscriptions"),
    ("subscribedContacts", "subscribedContacts"),
    ("presenceSubscriptionMemberships", "presenceSubscriptionMemberships"),
    ("myGroups", "groups"),
    ("myGroupMemberships", "groupMemberships"),
    ("myContacts", "contacts"),
    ("myPrivacyRelationships", "privacyRelationships"),
    ("myContactsAndGroupsSubscription", "contactsAndGroupsSubscription"),
    ("search", "search"),
)


def represent_me(links: Links, app: Application, user: User) -> Resource:
    me_links: dict[str, Link | list[Link]] = {}
    if not app.available:
        me_links["makeMeAvailable"] = Link(links.app_child("make_me_available", app.app_id))
    me_links["photo"] = Link(links.photo(app.app_id, user.address))
    if app.available:  # as in ReceiveAnIM's application after makeMeAvailable (application_ref)
        for rel, route in MY_LINKS:
            me_links[rel] = Link(links.app_child(route, app.app_id))
        me_links["reportMyActivity"] = Link(links.app_child("report_my_activity", app.app_id))
    return Resource(
        "me",
        href=links.app_child("me", app.app_id),
        properties={"name": user.name, "uri": user.uri},
        links=me_links,
    )


def represent_people(links: Links, app: Application) -> Resource:
    base = links.app_child("people", app.app_id)
    return Resource(
        "people",
        href=base,
        links={rel: Link(f"{base}/{leaf}") for rel, leaf in PEOPLE_LINKS},
    )


def represent_communication(links: Links, app: Application) -> Resource:
    child = links.communication_child
    return Resource(
        "communication",
        href=links.app_child("communication", app.app_id),
        properties={
            app.communication_put_guid: "please pass this in a PUT request",
            **dict(app.communication_settings),  # what the client set (communication_ref)
            "supportedModalities": list(app.supported_modalities),
            "supportedMessageFormats": list(app.supported_message_formats),
        },
        links={
            "conversations": Link(child(app.app_id, "conversations?filter=active")),
            "startMessaging": Link(child(app.app_id, "messagingInvitations")),
            "startOnlineMeeting": Link(
                child(app.app_id, "onlineMeetingInvitations?onlineMeetingUri=adhoc")
            ),
            "joinOnlineMeeting": Link(child(app.app_id, "onlineMeetingInvitations")),
        },
        etag=app.communication_etag,
    )


async def represent_application(request: Request, app: Application, user: User) -> Resource:
    links = Links(request)
    svc = services(request)
    assigned = await svc.meetings.assigned(user.uri)
    # Where the channel stands (1 for a new application): a client that re-POSTs its
    # application (CLIENT-COMPAT) and starts over from this link goes on without a resync.
    first_unacknowledged = await svc.events.first_unacknowledged(app.app_id)
    return Resource(
        "application",
        href=links.application(app.app_id),
        properties={
            "culture": app.culture,
            "userAgent": app.user_agent,
            "endpointId": app.endpoint_id,
            "instanceId": app.instance_id or None,
            "type": app.type,
            "id": app.app_id,
        },
        links={
            "policies": Link(links.app_child("app_policies", app.app_id)),
            "batch": Link(links.batch(app.app_id)),
            "events": Link(links.events(app.app_id, first_unacknowledged)),
        },
        embedded={
            "me": represent_me(links, app, user),
            "people": represent_people(links, app),
            "onlineMeetings": represent_dashboard(links, app.app_id, assigned.meeting_id),
            "communication": represent_communication(links, app),
        },
        etag=app.etag,
    )


async def _user(request: Request, uri: str) -> User:
    user = await services(request).users.get(uri)
    if user is None:  # the account was removed while a token was still alive
        raise NotFound("ApplicationNotFound", "The user no longer exists.")
    return user


async def create_application(request: Request) -> Response:
    caller = await authenticate(request)
    doc = await read_input(request, with_query=False)
    data = ApplicationInput(
        culture=doc.text("culture"),
        endpoint_id=doc.text("endpointId"),
        user_agent=doc.text("userAgent"),
        instance_id=doc.text("instanceId"),
        type=doc.text("type"),
    )
    doc.check()
    user = await _user(request, caller.uri)
    app, created = await services(request).applications.create(caller, data)
    resource = await represent_application(request, app, user)
    headers = {"Location": resource.href or ""}
    return render(request, resource, 201 if created else 200, etag=app.etag, headers=headers)


# What POST applications takes (applications_ref OPTIONS; E18: OPTIONS only here).
APPLICATIONS_OPTIONS = OptionsMetadata(
    (
        MethodMetadata(
            "POST",
            (
                ("culture", ()),
                ("endpointId", ()),
                ("instanceId", ()),
                ("type", ("Browser",)),
                ("userAgent", ()),
            ),
        ),
    )
)


async def options_applications(request: Request) -> Response:
    await authenticate(request)
    return render_options(request, APPLICATIONS_OPTIONS)


async def get_application(request: Request) -> Response:
    caller, app = await application_of(request)
    user = await _user(request, caller.uri)
    resource = await represent_application(request, app, user)
    return render(request, resource, etag=app.etag, embedded_changed=app.embedded_changed)


async def delete_application(request: Request) -> Response:
    caller = await authenticate(request)
    await services(request).applications.delete(caller, request.path_params["app_id"])
    return empty(204)


async def get_me(request: Request) -> Response:
    caller, app = await application_of(request)
    user = await _user(request, caller.uri)
    return render(request, represent_me(Links(request), app, user))


async def make_me_available(request: Request) -> Response:
    caller, app = await application_of(request)
    doc = await read_input(request)
    modalities = doc.text_list("supportedModalities")
    formats = doc.text_list("supportedMessageFormats")
    data = AvailabilityInput(
        sign_in_as=doc.text("signInAs"),
        supported_modalities=tuple(modalities) if modalities is not None else None,
        supported_message_formats=tuple(formats) if formats is not None else None,
        audio_preference=doc.text("audioPreference"),
        phone_number=doc.text("phoneNumber"),
    )
    doc.check()
    await services(request).applications.make_me_available(caller, app.app_id, data)
    return empty(204)


async def get_people(request: Request) -> Response:
    _, app = await application_of(request)
    return render(request, represent_people(Links(request), app))


async def get_communication(request: Request) -> Response:
    _, app = await application_of(request)
    resource = represent_communication(Links(request), app)
    return render(request, resource, etag=app.communication_etag)


async def put_communication(request: Request) -> Response:
    caller, app = await application_of(request)
    doc = await read_input(request, with_query=False)
    modalities = doc.text_list("supportedModalities")
    formats = doc.text_list("supportedMessageFormats")
    settings: dict[str, object] = {
        name: doc.boolean(name) if allowed is bool else doc.text(name)
        for name, allowed in COMMUNICATION_SETTINGS.items()
    }
    checked_settings(settings, doc.problems)  # every problem in one answer, types and values
    doc.check()
    updated = await services(request).applications.update_communication(
        caller,
        app.app_id,
        tuple(modalities) if modalities is not None else None,
        tuple(formats) if formats is not None else None,
        settings,
        parse_if_match(request.headers.get("if-match")),
    )
    resource = represent_communication(Links(request), updated)
    return render(request, resource, etag=updated.communication_etag)


async def report_my_activity(request: Request) -> Response:
    caller, app = await application_of(request)
    await read_body(request)
    await services(request).applications.report_activity(caller, app.app_id)
    return empty(204)


async def get_contact(request: Request) -> Response:
    _, app = await application_of(request)
    svc = services(request)
    uri = parse_sip_uri(unquote(request.path_params["address"]))
    user = await svc.users.get(uri) if uri else None
    if user is None:
        raise NotFound(message="No such contact.")
    resource = Resource(
        "contact",
        href=Links(request).contact(app.app_id, user.address),
        properties={
            "name": user.name,
            "uri": user.uri,
            "emailAddresses": [user.email] if user.email else [],
            "title": user.title or None,
            "company": user.company or None,
            "type": "User",
            "sourceNetwork": (
                "SameEnterprise" if svc.organization.contains(user.uri) else "Federated"
            ),
        },
    )
    return render(request, resource)


async def get_policies(request: Request) -> Response:
    _, app = await application_of(request)
    resource = Resource(
        "policies",
        href=Links(request).app_child("app_policies", app.app_id),
        # Only properties policies_ref documents, each as this server behaves: HTML and
        # clickable URLs pass through messages untouched, no photos, no Exchange.
        properties={
            "htmlMessaging": "Enabled",
            "emoticons": "Enabled",
            "messagingUrls": "Enabled",
            "photos": "Disabled",
            "logging": "Disabled",
            "exchangeUnifiedMessaging": "Disabled",
        },
    )
    return render(request, resource)


async def get_photo(request: Request) -> Response:
    await application_of(request)
    raise NotFound(message="No photo is published for this contact.")
