"""Demo partners: a merchant, a marketplace and a carrier handing over its Berlin last mile."""

from lastmile.hubs.models import Hub
from lastmile.partners.models import Partner
from lastmile.partners.services import partner_create

DEMO_PARTNERS = [
    ("Kiezkaufhaus", "kiezkaufhaus", Partner.Kind.MERCHANT, "BER-KX", "Mia Becker"),
    ("Spreemarkt", "spreemarkt", Partner.Kind.MARKETPLACE, "BER-TH", "Jonas Wolf"),
    ("Havelpaket", "havelpaket", Partner.Kind.CARRIER, "BER-TH", "Lena Schulz"),
]


def seed_partners() -> list[Partner]:
    partners = []
    for name, slug, kind, hub_code, contact in DEMO_PARTNERS:
        partner = Partner.objects.filter(slug=slug).first() or partner_create(
            name=name,
            slug=slug,
            kind=kind,
            default_hub=Hub.objects.get(code=hub_code),
            contact_name=contact,
            contact_email=f"ops@{slug}.example",
        )
        partners.append(partner)
    return partners
