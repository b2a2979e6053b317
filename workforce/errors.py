"""Error codes of the workforce app (values stable: clients and forms branch on them)."""

from lastmile.core.errors import BaseErrorCode


class WorkforceErrorCode(BaseErrorCode):
    """Codes the workforce services and validators give."""

    # Onboarding
    APPLICATION_LOCKED = "application_locked", "The application cannot change in its current state"
    APPLICATION_INCOMPLETE = "application_incomplete", "Steps of the checklist are not done"
    TERMS_OUTDATED = "terms_outdated", "Those terms are not the current version"
    INVALID_IBAN = "invalid_iban", "Not a valid IBAN"
    IBAN_NOT_SEPA = "iban_not_sepa", "The IBAN is not in a SEPA country"
    INVALID_BIC = "invalid_bic", "Not a valid BIC"

    # Availability and shifts
    # Dispatch's twin, spelled differently, is ``courier_not_active``: both values are kept.
    COURIER_INACTIVE = "courier_inactive", "Only active couriers declare availability or get shifts"
    SLOT_PAST = "slot_past", "A slot in the past cannot be withdrawn"

    # Earnings and ratings
    CORRECT_THE_ORIGINAL = "correct_the_original", "A correction is corrected on its original"
    CORRECTION_CONFLICT = "correction_conflict", "Someone corrected the entry at the same time"
    NOT_RATEABLE = "not_rateable", "Only a courier's delivery can be rated"
    ALREADY_RATED = "already_rated", "The delivery has been rated already"

    # Payouts
    WEEK_NOT_OVER = "week_not_over", "The pay week has not ended yet"
    PAYOUT_ACCOUNT_CHANGED = "payout_account_changed", "Held: the courier's account changed"
    PAYOUT_ACCOUNT_MISSING = "payout_account_missing", "The courier has no payout account"
    PAYOUT_ACCOUNT_UNREADABLE = "payout_account_unreadable", "The IBAN cannot be decrypted"
    SEPA_DEBTOR_MISSING = "sepa_debtor_missing", "The paying account is not configured"
    NO_BATCHES = "no_batches", "No payout batch was chosen"
    PAYOUT_FOUR_EYES = "payout_four_eyes", "The approver of a batch cannot export it"
    EXPORT_REFUSED = "export_refused", "A chosen batch cannot be paid; nothing was exported"
