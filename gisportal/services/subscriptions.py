"""Subscriptions: anyone may be told when a committee decides on a file, or when the rules of a parcel change.

A subscription is an e-mail address and a target: a permit file number or a parcel reference. It is
confirmed by a link (double opt-in, a signed token valid :data:`CONFIRM_MAX_AGE` seconds); every message
carries a one-click unsubscribe link (signed token; RFC 8058 ``List-Unsubscribe-Post`` header too), and
unsubscribing deletes the row: nothing is kept about a person who left.

Messages leave after the change that causes them is committed, and a failed send never undoes it
(:mod:`gisportal.core.notifications`). Addresses are never logged nor shown publicly; messages are written in
French, Arabic and English (one message, three blocks) so no request language is needed to send them.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from shapely.geometry.base import BaseGeometry

from gisportal.core.agencydb import _ID, _TIME, AgencyDB, metadata, utcnow
from gisportal.core.contact_details import email_address
from gisportal.core.errors import InvalidInput, NotFound
from gisportal.core.notifications import Notification, Sender
from gisportal.publishing.impact import SHARE_TOLERANCE
from gisportal.services.committees.records import PublicDecision, permit_files
from gisportal.services.committees.terms import DECISIONS, FILE_NUMBER, SESSION_KINDS, normalise_number
from gisportal.storage.base import Store
from gisportal.zoning.plans import PlanVersion

logger = logging.getLogger(__name__)

TARGET_KINDS = ("file", "parcel")
#: A confirmation link works this long (seconds).
CONFIRM_MAX_AGE = 7 * 24 * 3600

subscriptions = sa.Table(
    "gp_subscriptions", metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("email", sa.Text, nullable=False),  # personal data: never public, never logged
    sa.Column("target_kind", sa.Text, nullable=False),
    sa.Column("target", sa.Text, nullable=False, index=True),
    sa.Column("nonce", sa.Text, nullable=False),  # in the tokens: a deleted then renewed subscription gets new ones
    sa.Column("created_at", _TIME, nullable=False),
    sa.Column("confirmed_at", _TIME),
    sa.UniqueConstraint("email", "target_kind", "target", name="gp_subscriptions_once"),
    sa.CheckConstraint("target_kind IN ('file', 'parcel')", name="gp_subscriptions_kind"),
)


@dataclass(frozen=True)
class Links:
    """How the web layer builds the links of the messages, from a signed token."""

    confirm: Callable[[str], str]
    unsubscribe: Callable[[str], str]


@dataclass(frozen=True)
class Subscription:
    """What a subscription is about (the address stays in the database)."""

    id: int
    target_kind: str
    target: str
    confirmed: bool


def _text(fr: str, ar: str, en: str) -> str:
    return f"{fr}\n\n{ar}\n\n{en}\n"


class Subscriptions:
    """Subscribing, confirming, unsubscribing and notifying."""

    def __init__(self, db: AgencyDB, store: Store, secret_key: str, sender: Sender, links: Links) -> None:
        self.db, self.store, self.sender, self.links = db, store, sender, links
        self._confirming = URLSafeTimedSerializer(secret_key, salt="gisportal-subscription-confirm")
        self._leaving = URLSafeTimedSerializer(secret_key, salt="gisportal-subscription-unsubscribe")

    # --- subscribing -----------------------------------------------------------------------------------------
    def normalise_target(self, kind: str, target: str) -> str:
        """The target as stored: a well-formed file number, or the reference of a parcel of the store."""
        if kind not in TARGET_KINDS:
            raise InvalidInput("Choose a permit file or a parcel.", parameter="kind")
        if kind == "file":
            number = normalise_number(target)
            if not FILE_NUMBER.match(number):
                raise InvalidInput("This is not a permit file number.", parameter="target")
            return number
        parcel = self.store.parcel_by_ref(str(target or "").strip()) if str(target or "").strip() else None
        if parcel is None:
            raise NotFound("No parcel with this reference.", parameter="target")
        return parcel.ref

    def subscribe(self, email: str, kind: str, target: str) -> Subscription:
        """Record a subscription waiting for confirmation and send the confirmation link.

        Subscribing again (confirmed or not) sends a new link and changes nothing else, so the answer never
        tells whether an address was already subscribed.
        """
        address = email_address(str(email or ""))
        if address is None:
            raise InvalidInput("This is not an e-mail address.", parameter="email")
        target = self.normalise_target(kind, target)
        where = (subscriptions.c.email == address, subscriptions.c.target_kind == kind,
                 subscriptions.c.target == target)
        with self.db.write() as conn:
            row = conn.execute(sa.select(subscriptions).where(*where)).first()
            if row is None:
                conn.execute(sa.insert(subscriptions).values(email=address, target_kind=kind, target=target,
                                                             nonce=secrets.token_hex(8), created_at=utcnow()))
                row = conn.execute(sa.select(subscriptions).where(*where)).one()
        token = self._confirming.dumps([row.id, row.nonce])
        what = self._target_text(kind, target)
        self.sender.send(Notification(
            to=address, topic=f"subscription.confirm:{kind}:{target}",
            subject="Confirmez votre abonnement / تأكيد الاشتراك / Confirm your subscription",
            text=_text(f"Pour être informé(e) au sujet de {what['fr']}, confirmez en ouvrant ce lien :\n"
                       f"{self.links.confirm(token)}\nSi vous n'avez rien demandé, ignorez ce message.",
                       f"لتوصلكم الإشعارات بخصوص {what['ar']}، المرجو تأكيد الاشتراك بفتح هذا الرابط:\n"
                       f"{self.links.confirm(token)}\nإذا لم تطلبوا ذلك، تجاهلوا هذه الرسالة.",
                       f"To be told about {what['en']}, confirm by opening this link:\n{self.links.confirm(token)}\n"
                       "If you did not ask for this, ignore this message.")))
        return Subscription(row.id, kind, target, row.confirmed_at is not None)

    def _row_for(self, serializer: URLSafeTimedSerializer, token: str, max_age: int | None) -> sa.Row | None:
        try:
            sub_id, nonce = serializer.loads(token, max_age=max_age)
        except SignatureExpired:
            raise InvalidInput("This link has expired: subscribe again to receive a new one.") from None
        except (BadSignature, ValueError, TypeError):
            raise InvalidInput("This link is not valid.") from None
        with self.db.read() as conn:
            return conn.execute(sa.select(subscriptions).where(subscriptions.c.id == sub_id,
                                                               subscriptions.c.nonce == nonce)).first()

    def confirm(self, token: str) -> Subscription:
        """Confirm the subscription of a confirmation link (idempotent)."""
        row = self._row_for(self._confirming, token, CONFIRM_MAX_AGE)
        if row is None:
            raise NotFound("This subscription no longer exists: subscribe again.")
        if row.confirmed_at is None:
            with self.db.write() as conn:
                conn.execute(sa.update(subscriptions).where(subscriptions.c.id == row.id)
                             .values(confirmed_at=utcnow()))
            logger.info("subscription %d confirmed (%s)", row.id, row.target_kind)
        return Subscription(row.id, row.target_kind, row.target, True)

    def unsubscribe(self, token: str) -> Subscription | None:
        """Delete the subscription of an unsubscribe link; ``None`` when it was already gone."""
        row = self._row_for(self._leaving, token, None)
        if row is None:
            return None
        with self.db.write() as conn:
            conn.execute(sa.delete(subscriptions).where(subscriptions.c.id == row.id))
        logger.info("subscription %d ended (%s)", row.id, row.target_kind)
        return Subscription(row.id, row.target_kind, row.target, False)

    def unsubscribe_link(self, sub_id: int, nonce: str) -> str:
        """The one-click unsubscribe link of a subscription."""
        return self.links.unsubscribe(self._leaving.dumps([sub_id, nonce]))

    def count(self, confirmed: bool | None = None) -> int:
        """How many subscriptions (for staff dashboards and tests)."""
        query = sa.select(sa.func.count()).select_from(subscriptions)
        if confirmed is not None:
            query = query.where(subscriptions.c.confirmed_at.isnot(None) if confirmed
                                else subscriptions.c.confirmed_at.is_(None))
        with self.db.read() as conn:
            return conn.execute(query).scalar_one()

    # --- notifying -------------------------------------------------------------------------------------------
    def _confirmed(self, kind: str, targets: Iterable[str]) -> list[sa.Row]:
        targets = sorted(set(targets))
        if not targets:
            return []
        with self.db.read() as conn:
            return list(conn.execute(sa.select(subscriptions).where(
                subscriptions.c.target_kind == kind, subscriptions.c.target.in_(targets),
                subscriptions.c.confirmed_at.isnot(None)).order_by(subscriptions.c.id)).all())

    def _send(self, row: sa.Row, subject: str, text: str, topic: str) -> bool:
        link = self.unsubscribe_link(row.id, row.nonce)
        footer = _text("Se désabonner en un clic :", "لإلغاء الاشتراك بنقرة واحدة:", "Unsubscribe in one click:")
        return self.sender.send(Notification(
            to=row.email, subject=subject, text=f"{text}\n--\n{footer}{link}\n", topic=topic,
            headers={"List-Unsubscribe": f"<{link}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}))

    def notify_decisions(self, recorded: Iterable[PublicDecision]) -> int:
        """Tell the subscribers of each decided file, or of its parcel; answers how many messages left."""
        sent = 0
        for d in recorded:
            rows = self._confirmed("file", [d.file_number]) + [
                r for r in self._confirmed("parcel", [d.parcel_ref])]
            kind = SESSION_KINDS.get(d.session_kind, {})
            label = DECISIONS.get(d.decision, {})
            reasons = f"\n{d.conditions}" if d.conditions else ""
            text = _text(
                f"Dossier {d.file_number} (parcelle {d.parcel_ref}) : {label.get('fr', d.decision)} — "
                f"{kind.get('fr', '')}, séance du {d.held_on.isoformat()}.{reasons}",
                f"الملف {d.file_number} (القطعة {d.parcel_ref}): {label.get('ar', d.decision)} — "
                f"{kind.get('ar', '')}، جلسة {d.held_on.isoformat()}.",
                f"File {d.file_number} (parcel {d.parcel_ref}): {label.get('en', d.decision)} — "
                f"{kind.get('en', '')}, session of {d.held_on.isoformat()}.")
            subject = f"Dossier / ملف / File {d.file_number}: {label.get('fr', d.decision)}"
            for row in {r.email: r for r in rows}.values():  # one message per address
                sent += self._send(row, subject, text, f"decision:{d.file_number}")
        return sent

    def changed_parcels(self, store: Store, previous: PlanVersion | None, version: PlanVersion,
                        refs: Iterable[str]) -> list[str]:
        """Of ``refs``, the parcels whose zones or servitudes differ between ``previous`` and ``version``."""
        changed = []
        for ref in refs:
            parcel = store.parcel_by_ref(ref)
            if parcel is None:
                continue
            if self._coverage(store, parcel.geometry, previous) != self._coverage(store, parcel.geometry, version):
                changed.append(ref)
        return changed

    @staticmethod
    def _coverage(store: Store, geometry: BaseGeometry, version: PlanVersion | None) -> dict[str, int]:
        if version is None:
            return {}
        area = max(getattr(geometry, "area", 0.0), 1e-9)
        shares: dict[str, float] = {}
        for hit in store.zones_on(geometry, [version.id]):
            shares[f"zone:{hit.code}"] = shares.get(f"zone:{hit.code}", 0.0) + hit.area_m2 / area
        for overlay in store.overlays_on(geometry, [version.id]):
            shares[f"overlay:{overlay.kind}"] = shares.get(f"overlay:{overlay.kind}", 0.0) + overlay.area_m2 / area
        # shares rounded to the impact preview's tolerance: rounding noise is not a change
        return {k: round(v / (2 * SHARE_TOLERANCE)) for k, v in shares.items() if v > SHARE_TOLERANCE}

    def notify_plan_change(self, store: Store, previous: PlanVersion | None, version: PlanVersion) -> int:
        """After a publication: tell the subscribers of every parcel whose zones or servitudes changed, and of
        every permit file on such a parcel (one message per address and parcel)."""

        confirmed = subscriptions.c.confirmed_at.isnot(None)
        with self.db.read() as conn:
            parcel_of_file = dict(conn.execute(
                sa.select(permit_files.c.number, permit_files.c.parcel_ref).join(
                    subscriptions, sa.and_(subscriptions.c.target == permit_files.c.number,
                                           subscriptions.c.target_kind == "file"))
                .where(confirmed).distinct()).all())
            refs = [r.target for r in conn.execute(sa.select(subscriptions.c.target).where(
                subscriptions.c.target_kind == "parcel", confirmed).distinct()).all()]
        changed = set(self.changed_parcels(store, previous, version, {*refs, *parcel_of_file.values()}))
        recipients: dict[tuple[str, str], sa.Row] = {}
        for row in self._confirmed("parcel", changed) + self._confirmed(
                "file", [n for n, ref in parcel_of_file.items() if ref in changed]):
            recipients.setdefault((row.email, parcel_of_file.get(row.target, row.target)), row)
        sent = 0
        for (_email, ref), row in recipients.items():
            text = _text(
                f"Les règles de la parcelle {ref} ont changé : le plan {version.plan_name} version "
                f"{version.version} ({version.approval_act}) est applicable à partir du "
                f"{version.effective_from.isoformat()}. Demandez une nouvelle note de renseignements.",
                f"تغيرت قواعد التعمير المطبقة على القطعة {ref}: تصميم {version.plan_name} النسخة "
                f"{version.version} ({version.approval_act}) ابتداء من {version.effective_from.isoformat()}. "
                "اطلبوا مذكرة معلومات تعميرية جديدة.",
                f"The rules of parcel {ref} have changed: plan {version.plan_name} version {version.version}"
                f" ({version.approval_act}) applies from {version.effective_from.isoformat()}. "
                "Ask for a new urban-information note.")
            sent += self._send(row, f"Parcelle / قطعة / Parcel {ref}", text, f"plan:{version.plan_name}")
        logger.info("plan %s v%d: %d subscribed parcel(s) changed, %d message(s) sent", version.plan_name,
                    version.version, len(changed), sent)
        return sent

    @staticmethod
    def _target_text(kind: str, target: str) -> dict[str, str]:
        if kind == "file":
            return {"fr": f"le dossier {target}", "ar": f"الملف {target}", "en": f"permit file {target}"}
        return {"fr": f"la parcelle {target}", "ar": f"القطعة {target}", "en": f"parcel {target}"}

