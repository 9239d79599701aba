"""hushwire for Python: a ctypes binding of the C ABI (``ffi/include/hushwire.h``).

It builds nothing: it loads ``libhushwire_ffi`` from ``$HUSHWIRE_LIB`` (a path to the
library), or else from the repository's ``target/release`` (``cargo build -p hushwire-ffi
--release``).

Every handle (:class:`Account`, :class:`Session`, :class:`Group`, :class:`Issuer`,
:class:`TrustStore`, :class:`OrganizationRoots`, :class:`AttachmentEncryptor`,
:class:`AttachmentDecryptor`, :class:`RecoveryKey`, :class:`BackupWriter`,
:class:`RestoredBackup`, :class:`Sas`, :class:`VaultedField`) frees its native state on
``close()``, at the end of a ``with`` block, or when it is garbage collected. Failures raise
:class:`HushwireError` subclasses carrying the status, the kind (``"tampered"``,
``"replay"``, ...) and the stable code of the Rust error (``"decrypt.tampered"``, ...). Time is passed in as Unix seconds; randomness comes from the OS
inside the library. Returned buffers are copied into ``bytes`` and the native copy is wiped.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
from ctypes import (
    POINTER,
    byref,
    c_char_p,
    c_int,
    c_size_t,
    c_uint8,
    c_uint32,
    c_uint64,
    c_void_p,
)
from pathlib import Path
from typing import Iterable, NamedTuple, Optional, Tuple, Union

__all__ = [
    "ABI_VERSION",
    "Account",
    "Session",
    "Group",
    "Issuer",
    "TrustStore",
    "Opened",
    "HushwireError",
    "NullArgumentError",
    "InvalidArgumentError",
    "PanicError",
    "PoisonedError",
    "RngFailureError",
    "MalformedError",
    "TamperedError",
    "UnknownSessionError",
    "ReplayError",
    "LimitExceededError",
    "InvalidInputError",
    "StateOutOfSyncError",
    "UntrustedError",
    "seal",
    "seal_multi",
    "multi_recipient_envelope",
    "open_envelope",
    "envelope_recipient",
    "server_certificate",
    "sender_certificate",
    "relay_challenge_verify",
    "AttachmentEncryptor",
    "AttachmentDecryptor",
    "AttachmentInfo",
    "attachment_encrypt",
    "attachment_decrypt",
    "attachment_verify_digest",
    "attachment_pointer_info",
    "OpenedMessage",
    "account_open_and_decrypt",
    "session_open_and_decrypt",
    "BlobInfo",
    "blob_info",
    "account_to_encrypted_labeled",
    "account_from_encrypted_labeled",
    "session_to_encrypted_labeled",
    "session_from_encrypted_labeled",
    "group_to_encrypted_labeled",
    "group_from_encrypted_labeled",
    "attachment_thumbnail",
    "attachment_set_thumbnail",
    "attachment_object_range",
    "attachment_decrypt_range",
    "attachment_chunk_range",
    "attachment_decrypt_chunk",
    "Masked",
    "mask",
    "mask_check",
    "mask_find",
    "Masker",
    "Finding",
    "safety_number",
    "safety_number_qr",
    "verify_scanned_safety_number",
    "OrganizationRoots",
    "BusinessIdentity",
    "identity_certificate",
    "verify_operator",
    "RESET_NONE",
    "RESET_NO_SESSION",
    "RESET_STATE_BEHIND",
    "RESET_PEER_FORKED",
    "RESET_TOO_FAR_BEHIND",
    "PeerDecrypted",
    "ResetAnswered",
    "ResetRequestInfo",
    "reset_request_info",
    "RecoveryKey",
    "BackupWriter",
    "Appended",
    "RestoredBackup",
    "backup_encode",
    "backup_restore",
    "backup_unwrap_recovery_key",
    "Sas",
    "SecureField",
    "MaskedFieldInfo",
    "secure_field_seal",
    "masked_field_info",
    "VaultedField",
]

#: The ABI version this binding was written for (``HW_ABI_VERSION``).
ABI_VERSION = 1
KEY_LEN = 32
CONTENT_SESSION = 1
CONTENT_GROUP = 2
#: Reset reasons (``HW_RESET_*``): :attr:`HushwireError.reset_reason` of a failed
#: :meth:`Account.decrypt_from`, passed to :meth:`Account.reset_request`.
RESET_NONE = 0
RESET_NO_SESSION = 1
RESET_STATE_BEHIND = 2
RESET_PEER_FORKED = 3
RESET_TOO_FAR_BEHIND = 4
#: Secure-field kinds and policies (``HW_KIND_*``, ``HW_POLICY_*``).
KIND_CARD = 1
KIND_IBAN = 2
KIND_EMAIL = 3
KIND_PHONE = 4
POLICY_KEEP_LAST4 = 1
POLICY_KEEP_FIRST6_LAST4 = 2
POLICY_MASK_ALL = 3
POLICY_FLAG_ONLY = 4
#: :meth:`Account.verification_state` values.
VERIFICATION_UNKNOWN = 0
VERIFICATION_UNVERIFIED = 1
VERIFICATION_VERIFIED = 2
VERIFICATION_CHANGED = 3


# ─── errors ──────────────────────────────────────────────────────────────────────────────────


class HushwireError(Exception):
    """A failed call: ``status`` (the ``hw_status`` value), ``kind`` and ``code`` (stable
    names), and a log ``message``. State is unchanged after every failure. ``reset_reason`` is
    not :data:`RESET_NONE` when the failure (of :meth:`Account.decrypt_from`) should be
    answered with a reset request (:meth:`Account.reset_request`) for that reason. ``fields``
    is the error's typed details (``hw_error_json``, SPEC.md §8.4): for example
    ``{"retry_after_secs": 3600}`` for ``reset.rate_limited``, a wrapped error as
    ``{"error": {"code": ..., "kind": ..., "fields": ...}}``; ``{}`` when there are none."""

    def __init__(
        self,
        status: int,
        kind: str,
        code: str,
        message: str,
        reset_reason: int = 0,
        fields: Optional[dict] = None,
    ):
        super().__init__(f"{code}: {message}")
        self.status = status
        self.kind = kind
        self.code = code
        self.message = message
        self.reset_reason = reset_reason
        self.fields = {} if fields is None else fields


class NullArgumentError(HushwireError):
    """A required argument was missing (NULL)."""


class InvalidArgumentError(HushwireError):
    """An argument is out of range."""


class PanicError(HushwireError):
    """The library panicked (a bug); the handle in use is poisoned."""


class PoisonedError(HushwireError):
    """The handle was poisoned by an earlier panic."""


class RngFailureError(HushwireError):
    """The operating system's random number generator failed."""


class MalformedError(HushwireError):
    """Not a well-formed hushwire structure."""


class TamperedError(HushwireError):
    """Authentication failed (forged, tampered, wrong key)."""


class UnknownSessionError(HushwireError):
    """The message belongs to a session this state does not know."""


class ReplayError(HushwireError):
    """Already processed (a replay or duplicate), or a rolled-back blob."""


class LimitExceededError(HushwireError):
    """A configured or protocol limit was hit."""


class InvalidInputError(HushwireError):
    """A caller-supplied value is invalid."""


class StateOutOfSyncError(HushwireError):
    """Our state or the peer's is out of step: reset the session."""


class UntrustedError(HushwireError):
    """The credential behind the data is not trusted now."""


_BY_STATUS = {
    1: NullArgumentError,
    2: InvalidArgumentError,
    3: PanicError,
    4: PoisonedError,
    5: RngFailureError,
    10: MalformedError,
    11: TamperedError,
    12: UnknownSessionError,
    13: ReplayError,
    14: LimitExceededError,
    15: InvalidInputError,
    16: StateOutOfSyncError,
    17: UntrustedError,
}


# ─── loading ─────────────────────────────────────────────────────────────────────────────────


class _Bytes(ctypes.Structure):
    _fields_ = [("data", POINTER(c_uint8)), ("len", c_size_t), ("capacity", c_size_t)]


def _library_path() -> str:
    env = os.environ.get("HUSHWIRE_LIB")
    if env:
        return env
    names = {"darwin": "libhushwire_ffi.dylib", "win32": "hushwire_ffi.dll"}
    name = names.get(sys.platform, "libhushwire_ffi.so")
    root = Path(__file__).resolve().parents[2]
    return str(root / "target" / "release" / name)


_lib = ctypes.CDLL(_library_path())

_P = c_void_p
_ERR = POINTER(c_void_p)
_OUT_KEY = POINTER(c_uint8 * 32)
_BUF = POINTER(_Bytes)
_IN = POINTER(c_uint8)

_SIGNATURES = {
    "hw_abi_version": ([], c_uint32),
    "hw_bytes_free": ([_BUF], None),
    "hw_error_status": ([_P], c_int),
    "hw_error_kind": ([_P], c_char_p),
    "hw_error_code": ([_P], c_char_p),
    "hw_error_message": ([_P], c_char_p),
    "hw_error_free": ([_P], None),
    "hw_error_reset_reason": ([_P], c_uint8),
    "hw_error_json": ([_P], c_char_p),
    "hw_account_start_session": ([_P, _IN, c_size_t, _OUT_KEY, _BUF, _ERR], c_int),
    "hw_account_encrypt_for": ([_P, _IN, _IN, c_size_t, _BUF, _ERR], c_int),
    "hw_account_decrypt_from": (
        [_P, _IN, _IN, c_size_t, c_uint64, _BUF, _OUT_KEY, _BUF, _ERR],
        c_int,
    ),
    "hw_account_forget_peer": ([_P, _IN, POINTER(c_uint8), _ERR], c_int),
    "hw_account_peers": ([_P, _BUF, _ERR], c_int),
    "hw_account_sessions_with": ([_P, _IN, _BUF, _ERR], c_int),
    "hw_account_reset_request": ([_P, _IN, c_uint8, c_uint64, c_uint64, _BUF, _ERR], c_int),
    "hw_reset_request_info": (
        [_IN, c_size_t, _OUT_KEY, POINTER(c_uint8), POINTER(c_uint64), _ERR],
        c_int,
    ),
    "hw_account_answer_reset": (
        [_P, _IN, c_size_t, _IN, c_size_t, c_uint64, _OUT_KEY, POINTER(c_uint64), _BUF, _ERR],
        c_int,
    ),
    "hw_account_record_identity": ([_P, _IN, c_size_t, _IN, c_uint64, _BUF, _ERR], c_int),
    "hw_account_mark_verified": ([_P, _IN, c_size_t, _IN, c_uint64, _ERR], c_int),
    "hw_account_accept_identity_change": ([_P, _IN, c_size_t, _IN, _ERR], c_int),
    "hw_account_verification_state": (
        [_P, _IN, c_size_t, POINTER(c_uint8), _OUT_KEY, _ERR],
        c_int,
    ),
    "hw_recovery_key_generate": ([POINTER(_P), _ERR], c_int),
    "hw_recovery_key_to_display": ([_P, _BUF, _ERR], c_int),
    "hw_recovery_key_from_display": ([_IN, c_size_t, POINTER(_P), _ERR], c_int),
    "hw_recovery_key_free": ([_P], None),
    "hw_backup_writer_create": ([_P, _IN, c_size_t, c_uint64, POINTER(_P), _BUF, _ERR], c_int),
    "hw_recovery_key_wrap": (
        [_P, _IN, c_size_t, c_uint32, c_uint32, c_uint32, _BUF, _ERR],
        c_int,
    ),
    "hw_backup_unwrap_recovery_key": ([_IN, c_size_t, _IN, c_size_t, POINTER(_P), _ERR], c_int),
    "hw_account_maintenance_events": ([_P, c_uint64, _BUF, _ERR], c_int),
    "hw_account_clear_verification": ([_P, _IN, c_size_t, c_uint8, POINTER(c_uint8), _ERR], c_int),
    "hw_account_is_identity_blocked": ([_P, _IN, POINTER(c_uint8), _ERR], c_int),
    "hw_seal_multi": (
        [_P, _IN, c_size_t, _IN, c_size_t, c_uint8, c_uint64, c_uint32, _IN, c_size_t, _BUF,
         _ERR],
        c_int,
    ),
    "hw_multi_recipient_envelope": ([_IN, c_size_t, _IN, _BUF, _BUF, _ERR], c_int),
    "hw_account_open_and_decrypt": (
        [_P, _P, _IN, c_size_t, c_uint64, _BUF, _OUT_KEY, _OUT_KEY, _BUF, _ERR],
        c_int,
    ),
    "hw_session_open_and_decrypt": (
        [_P, _P, _P, _IN, c_size_t, c_uint64, _BUF, _OUT_KEY, _ERR],
        c_int,
    ),
    "hw_account_set_session_config": ([_P, c_uint32, c_uint32, c_uint32, c_uint32, _ERR], c_int),
    "hw_account_session_config": (
        [_P, POINTER(c_uint32), POINTER(c_uint32), POINTER(c_uint32), POINTER(c_uint32), _ERR],
        c_int,
    ),
    "hw_restored_backup_apply_identity_book": ([_P, _P, _ERR], c_int),
    "hw_mask_find": ([_IN, c_size_t, _BUF, _ERR], c_int),
    "hw_masker_new": ([c_uint8, c_uint8, c_uint8, c_uint8, POINTER(_P), _ERR], c_int),
    "hw_masker_mask": ([_P, _IN, c_size_t, _BUF, POINTER(c_uint8), _ERR], c_int),
    "hw_masker_find": ([_P, _IN, c_size_t, _BUF, _ERR], c_int),
    "hw_masker_check": ([_P, _IN, c_size_t, _ERR], c_int),
    "hw_masker_free": ([_P], None),
    "hw_group_members": ([_P, _BUF, _ERR], c_int),
    "hw_blob_info": (
        [_IN, c_size_t, POINTER(c_uint8), POINTER(c_uint64), POINTER(ctypes.c_uint16), _ERR],
        c_int,
    ),
    "hw_account_to_encrypted_labeled": ([_P, _IN, _IN, c_size_t, c_uint64, _BUF, _ERR], c_int),
    "hw_account_from_encrypted_labeled": (
        [_IN, c_size_t, _IN, c_uint64, _IN, c_size_t, POINTER(_P), _ERR],
        c_int,
    ),
    "hw_session_to_encrypted_labeled": ([_P, _IN, _IN, c_size_t, c_uint64, _BUF, _ERR], c_int),
    "hw_session_from_encrypted_labeled": (
        [_IN, c_size_t, _IN, c_uint64, _IN, _IN, c_size_t, POINTER(_P), _ERR],
        c_int,
    ),
    "hw_group_to_encrypted_labeled": ([_P, _IN, _IN, c_size_t, c_uint64, _BUF, _ERR], c_int),
    "hw_group_from_encrypted_labeled": (
        [_IN, c_size_t, _IN, c_uint64, _IN, _IN, c_size_t, POINTER(_P), _ERR],
        c_int,
    ),
    "hw_attachment_pointer_thumbnail": ([_IN, c_size_t, _BUF, _ERR], c_int),
    "hw_attachment_pointer_set_thumbnail": ([_IN, c_size_t, _IN, c_size_t, _BUF, _ERR], c_int),
    "hw_attachment_object_range": (
        [_IN, c_size_t, c_uint64, c_uint64, POINTER(c_uint64), POINTER(c_uint64), _ERR],
        c_int,
    ),
    "hw_attachment_chunk_range": (
        [_IN, c_size_t, c_uint64, POINTER(c_uint64), POINTER(c_uint64), POINTER(c_uint64), _ERR],
        c_int,
    ),
    "hw_attachment_decrypt_chunk": ([_IN, c_size_t, c_uint64, _IN, c_size_t, _BUF, _ERR], c_int),
    "hw_attachment_encryptor_new_with_chunk_size": ([c_uint8, POINTER(_P), _ERR], c_int),
    "hw_attachment_decrypt_range": (
        [_IN, c_size_t, c_uint64, c_uint64, _IN, c_size_t, _BUF, _ERR],
        c_int,
    ),
    "hw_group_epoch": ([_P, POINTER(c_uint64), POINTER(c_uint8), _ERR], c_int),
    "hw_backup_writer_enroll": ([_P, _IN, c_size_t, c_uint64, POINTER(_P), _BUF, _ERR], c_int),
    "hw_backup_writer_append_account": ([_P, _P, c_uint8, c_uint64, _BUF, _BUF, _ERR], c_int),
    "hw_backup_writer_append_group": ([_P, _P, c_uint64, _BUF, _BUF, _ERR], c_int),
    "hw_backup_writer_append_app_data": (
        [_P, _IN, _IN, c_size_t, c_uint64, _BUF, _BUF, _ERR],
        c_int,
    ),
    "hw_backup_writer_counter": ([_P, POINTER(c_uint64), POINTER(c_size_t), _ERR], c_int),
    "hw_backup_writer_manifest": ([_P, _BUF, _ERR], c_int),
    "hw_backup_writer_export": ([_P, _BUF, _OUT_KEY, _ERR], c_int),
    "hw_backup_writer_resume": (
        [_IN, c_size_t, _IN, _IN, c_size_t, POINTER(_P), _ERR],
        c_int,
    ),
    "hw_backup_writer_accept_manifest": ([_P, _IN, c_size_t, _ERR], c_int),
    "hw_backup_writer_free": ([_P], None),
    "hw_backup_encode": ([_IN, c_size_t, _IN, c_size_t, _IN, c_size_t, _BUF, _ERR], c_int),
    "hw_backup_restore": ([_P, _IN, c_size_t, c_uint64, POINTER(_P), _ERR], c_int),
    "hw_restored_backup_counter": ([_P, POINTER(c_uint64), POINTER(c_uint64), _ERR], c_int),
    "hw_restored_backup_group_count": ([_P, POINTER(c_size_t), _ERR], c_int),
    "hw_restored_backup_group": ([_P, c_size_t, POINTER(_P), _ERR], c_int),
    "hw_restored_backup_sessions_to_restart": ([_P, _BUF, _ERR], c_int),
    "hw_restored_backup_has_identity": ([_P, POINTER(c_uint8), _ERR], c_int),
    "hw_restored_backup_to_account": ([_P, c_uint64, POINTER(_P), _ERR], c_int),
    "hw_restored_backup_app_data_count": ([_P, POINTER(c_size_t), _ERR], c_int),
    "hw_restored_backup_app_data": ([_P, c_size_t, _OUT_KEY, _BUF, _ERR], c_int),
    "hw_restored_backup_free": ([_P], None),
    "hw_sas_start": ([_P, _P, _IN, c_uint64, POINTER(_P), _BUF, _ERR], c_int),
    "hw_sas_accept": (
        [_P, _P, _IN, _IN, c_size_t, c_uint64, POINTER(_P), _BUF, _ERR],
        c_int,
    ),
    "hw_sas_receive_accept": (
        [_P, _P, _P, _IN, _IN, c_size_t, c_uint64, _BUF, _ERR],
        c_int,
    ),
    "hw_sas_receive_reveal": ([_P, _P, _P, _IN, _IN, c_size_t, c_uint64, _ERR], c_int),
    "hw_sas_is_ready": ([_P, POINTER(c_uint8), _ERR], c_int),
    "hw_sas_emoji": ([_P, POINTER(c_uint8 * 7), _ERR], c_int),
    "hw_sas_emoji_text": ([_P, _BUF, _ERR], c_int),
    "hw_sas_decimal": ([_P, _BUF, _ERR], c_int),
    "hw_sas_remote_identity": ([_P, _OUT_KEY, _ERR], c_int),
    "hw_sas_free": ([_P], None),
    "hw_secure_field_seal": (
        [_P, _IN, c_size_t, _IN, c_uint8, c_uint8, _IN, c_size_t, c_uint64, _BUF, _BUF, _ERR],
        c_int,
    ),
    "hw_masked_field_info": (
        [_IN, c_size_t, _BUF, POINTER(c_uint8), POINTER(c_uint8), POINTER(c_uint8 * 16), _ERR],
        c_int,
    ),
    "hw_vaulted_field_open": ([_P, _P, _IN, c_size_t, c_uint64, POINTER(_P), _ERR], c_int),
    "hw_vaulted_field_verify": ([_P, _IN, c_size_t, _ERR], c_int),
    "hw_vaulted_field_value": (
        [_P, _BUF, POINTER(c_uint8 * 16), POINTER(c_uint8), _OUT_KEY, _ERR],
        c_int,
    ),
    "hw_vaulted_field_free": ([_P], None),
    "hw_account_new": ([c_uint64, POINTER(_P), _ERR], c_int),
    "hw_account_free": ([_P], None),
    "hw_account_identity_key": ([_P, _OUT_KEY, _ERR], c_int),
    "hw_account_generate_one_time_prekeys": ([_P, c_uint32, c_uint32, c_uint64, _ERR], c_int),
    "hw_account_prekey_bundle": ([_P, _BUF, _ERR], c_int),
    "hw_account_one_time_prekey_counts": ([_P, POINTER(c_size_t), POINTER(c_size_t), _ERR], c_int),
    "hw_account_prekeys_due_for_rotation": ([_P, c_uint64, POINTER(c_uint8), _ERR], c_int),
    "hw_account_rotate_prekeys": ([_P, c_uint64, _ERR], c_int),
    "hw_envelope_recipient": ([_IN, c_size_t, _OUT_KEY, _ERR], c_int),
    "hw_account_create_outbound_session": ([_P, _IN, c_size_t, POINTER(_P), _ERR], c_int),
    "hw_account_create_inbound_session": (
        [_P, _IN, c_size_t, c_uint64, POINTER(_P), _BUF, _ERR],
        c_int,
    ),
    "hw_account_to_encrypted": ([_P, _IN, c_uint64, _BUF, _ERR], c_int),
    "hw_account_from_encrypted": ([_IN, c_size_t, _IN, c_uint64, POINTER(_P), _ERR], c_int),
    "hw_session_free": ([_P], None),
    "hw_session_encrypt": ([_P, _IN, c_size_t, _BUF, _ERR], c_int),
    "hw_session_decrypt": ([_P, _IN, c_size_t, _BUF, _ERR], c_int),
    "hw_session_id": ([_P, _OUT_KEY, _ERR], c_int),
    "hw_session_remote_identity": ([_P, _OUT_KEY, _ERR], c_int),
    "hw_session_to_encrypted": ([_P, _IN, c_uint64, _BUF, _ERR], c_int),
    "hw_session_from_encrypted": (
        [_IN, c_size_t, _IN, c_uint64, _IN, POINTER(_P), _ERR],
        c_int,
    ),
    "hw_issuer_new": ([POINTER(_P), _ERR], c_int),
    "hw_issuer_free": ([_P], None),
    "hw_issuer_public_key": ([_P, _OUT_KEY, _ERR], c_int),
    "hw_server_certificate_issue": (
        [_P, c_uint32, c_uint32, _IN, c_uint64, c_uint64, _BUF, _ERR],
        c_int,
    ),
    "hw_sender_certificate_issue": (
        [_P, _IN, c_size_t, c_uint64, _IN, c_size_t, c_uint32, _IN, c_uint64, c_uint64, _BUF,
         _ERR],
        c_int,
    ),
    "hw_trust_store_new": ([POINTER(_P), _ERR], c_int),
    "hw_trust_store_free": ([_P], None),
    "hw_trust_store_add_root": ([_P, c_uint32, _IN, _ERR], c_int),
    "hw_seal": (
        [_P, _IN, c_size_t, _IN, c_uint8, c_uint64, c_uint32, _IN, c_size_t, _BUF, _ERR],
        c_int,
    ),
    "hw_open": (
        [_P, _P, _IN, c_size_t, c_uint64, _BUF, _OUT_KEY, POINTER(c_uint8), POINTER(c_uint64),
         _ERR],
        c_int,
    ),
    "hw_group_create": ([_P, _IN, c_size_t, POINTER(_P), _BUF, _BUF, _ERR], c_int),
    "hw_group_join": ([_P, _IN, c_size_t, _IN, POINTER(_P), _BUF, _ERR], c_int),
    "hw_group_receive_distribution": ([_P, _P, _IN, c_size_t, _ERR], c_int),
    "hw_group_encrypt": ([_P, _IN, c_size_t, _BUF, _ERR], c_int),
    "hw_group_decrypt": ([_P, _IN, c_size_t, c_uint64, _BUF, _OUT_KEY, _ERR], c_int),
    "hw_group_id": ([_P, _OUT_KEY, _ERR], c_int),
    "hw_group_to_encrypted": ([_P, _IN, c_uint64, _BUF, _ERR], c_int),
    "hw_group_from_encrypted": ([_IN, c_size_t, _IN, c_uint64, _IN, POINTER(_P), _ERR], c_int),
    "hw_group_free": ([_P], None),
    "hw_group_add_member": ([_P, _P, _IN, c_uint8, _BUF, _BUF, _BUF, _ERR], c_int),
    "hw_group_remove_member": ([_P, _P, _IN, c_uint64, _BUF, _BUF, _ERR], c_int),
    "hw_group_apply_roster_change": ([_P, _P, _IN, c_size_t, c_uint64, _BUF, _ERR], c_int),
    "hw_group_set_role": ([_P, _P, _IN, c_uint8, _BUF, _ERR], c_int),
    "hw_group_leave": ([_P, _P, _BUF, _ERR], c_int),
    "hw_group_rotate_sender_key": ([_P, _P, _BUF, _ERR], c_int),
    "hw_attachment_verify_digest": ([_IN, c_size_t, _IN, c_size_t, _ERR], c_int),
    "hw_account_sign_relay_challenge": ([_P, _IN, c_size_t, POINTER(c_uint8 * 64), _ERR], c_int),
    "hw_relay_challenge_verify": ([_IN, _IN, c_size_t, _IN, POINTER(c_uint8), _ERR], c_int),
    "hw_attachment_encrypt": (
        [_IN, c_size_t, _IN, c_size_t, _IN, c_size_t, _BUF, _BUF, _ERR],
        c_int,
    ),
    "hw_attachment_decrypt": ([_IN, c_size_t, _IN, c_size_t, _BUF, _ERR], c_int),
    "hw_attachment_pointer_info": (
        [_IN, c_size_t, POINTER(c_uint64), POINTER(c_uint64), _BUF, _BUF, _ERR],
        c_int,
    ),
    "hw_attachment_encryptor_new": ([POINTER(_P), _ERR], c_int),
    "hw_attachment_encryptor_push": ([_P, _IN, c_size_t, _BUF, _ERR], c_int),
    "hw_attachment_encryptor_finish": (
        [_P, _IN, c_size_t, _IN, c_size_t, _BUF, _BUF, _ERR],
        c_int,
    ),
    "hw_attachment_encryptor_free": ([_P], None),
    "hw_attachment_decryptor_new": ([_IN, c_size_t, POINTER(_P), _ERR], c_int),
    "hw_attachment_decryptor_push": ([_P, _IN, c_size_t, _BUF, _ERR], c_int),
    "hw_attachment_decryptor_position": ([_P, POINTER(c_uint64), _ERR], c_int),
    "hw_attachment_decryptor_finish": ([_P, _ERR], c_int),
    "hw_attachment_decryptor_free": ([_P], None),
    "hw_mask_text": ([_IN, c_size_t, _BUF, POINTER(c_uint8), _ERR], c_int),
    "hw_mask_check": ([_IN, c_size_t, _ERR], c_int),
    "hw_safety_number": ([_IN, c_size_t, _IN, _IN, c_size_t, _IN, _BUF, _ERR], c_int),
    "hw_safety_number_qr": ([_IN, c_size_t, _IN, _IN, c_size_t, _IN, _BUF, _ERR], c_int),
    "hw_safety_number_verify_scanned": (
        [_IN, c_size_t, _IN, _IN, c_size_t, _IN, _IN, c_size_t, _ERR],
        c_int,
    ),
    "hw_organization_roots_new": ([POINTER(_P), _ERR], c_int),
    "hw_organization_roots_free": ([_P], None),
    "hw_organization_roots_pin": ([_P, c_uint32, _IN, _IN, c_size_t, _ERR], c_int),
    "hw_organization_roots_unpin": ([_P, c_uint32, POINTER(c_uint8), _ERR], c_int),
    "hw_organization_roots_revoke_key": ([_P, c_uint32, c_uint32, _ERR], c_int),
    "hw_organization_roots_revoke_certificate": ([_P, c_uint32, c_uint32, c_uint64, _ERR], c_int),
    "hw_identity_certificate_issue": (
        [_P, _IN, c_size_t, c_uint64, _IN, c_size_t, _IN, c_size_t, _IN, c_size_t, _IN,
         c_uint64, c_uint64, _BUF, _ERR],
        c_int,
    ),
    "hw_verify_operator": (
        [_IN, c_size_t, _IN, _P, c_uint64, _BUF, _BUF, _BUF, _BUF, POINTER(c_uint64), _ERR],
        c_int,
    ),
}

for _name, (_args, _ret) in _SIGNATURES.items():
    _fn = getattr(_lib, _name)
    _fn.argtypes = _args
    _fn.restype = _ret

if _lib.hw_abi_version() != ABI_VERSION:
    raise ImportError(
        f"libhushwire_ffi ABI version {_lib.hw_abi_version()}, this binding needs {ABI_VERSION}"
    )


# ─── helpers ─────────────────────────────────────────────────────────────────────────────────


def _in(data: Optional[bytes]):
    """A borrowed (pointer, length) pair for `data` (bytes-like)."""
    if data is None:
        return None, 0, None
    data = bytes(data)
    buf = (c_uint8 * len(data)).from_buffer_copy(data) if data else None
    return (ctypes.cast(buf, _IN) if buf is not None else None), len(data), buf


def _text(text: Union[str, bytes, None]):
    """A borrowed (pointer, length) pair for text: a ``str`` is encoded as UTF-8; ``bytes``
    are passed as they are (the library refuses bytes that are not UTF-8 with
    :class:`InvalidArgumentError`)."""
    if isinstance(text, str):
        text = text.encode("utf-8")
    return _in(text)


def _key(data: Optional[bytes], what: str):
    if data is None:
        return None
    if len(data) != KEY_LEN:
        raise ValueError(f"{what} must be {KEY_LEN} bytes, got {len(data)}")
    return (c_uint8 * KEY_LEN).from_buffer_copy(bytes(data))


def _call(fn, *args) -> None:
    err = c_void_p()
    status = fn(*args, byref(err))
    if status != 0:
        try:
            kind = (_lib.hw_error_kind(err) or b"").decode()
            code = (_lib.hw_error_code(err) or b"").decode()
            message = (_lib.hw_error_message(err) or b"").decode()
            reset_reason = _lib.hw_error_reset_reason(err)
            fields = json.loads((_lib.hw_error_json(err) or b"{}").decode()).get("fields", {})
        finally:
            _lib.hw_error_free(err)
        raise _BY_STATUS.get(status, HushwireError)(
            status, kind, code, message, reset_reason, fields
        )


def _take(buf: _Bytes) -> bytes:
    """Copies a returned buffer into `bytes` and frees (wipes) the native one."""
    try:
        return ctypes.string_at(buf.data, buf.len) if buf.data else b""
    finally:
        _lib.hw_bytes_free(byref(buf))


class _Handle:
    _free = None

    def __init__(self, ptr: c_void_p):
        self._ptr = ptr

    @property
    def _p(self) -> c_void_p:
        if not self._ptr:
            raise ValueError(f"{type(self).__name__} is closed")
        return self._ptr

    def close(self) -> None:
        """Frees the native state (its secrets are wiped). Idempotent."""
        if getattr(self, "_ptr", None):
            type(self)._free(self._ptr)
            self._ptr = c_void_p()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: the library may already be unloaded
            pass


def _events(buf: _Bytes) -> list:
    """The events' codes of a returned buffer (codes joined by newlines)."""
    text = _take(buf).decode("ascii")
    return text.split("\n") if text else []


def _split32(data: bytes) -> list:
    return [data[i : i + 32] for i in range(0, len(data), 32)]


def _new(cls, fn, *args):
    out = c_void_p()
    _call(fn, *args, byref(out))
    return cls(out)


# ─── account and sessions ────────────────────────────────────────────────────────────────────


class Session(_Handle):
    """A 1:1 session with one peer."""

    _free = _lib.hw_session_free

    def encrypt(self, plaintext: bytes) -> bytes:
        p, n, _keep = _in(plaintext)
        out = _Bytes()
        _call(_lib.hw_session_encrypt, self._p, p, n, byref(out))
        return _take(out)

    def decrypt(self, message: bytes) -> bytes:
        """Decrypts a message; raises (e.g. :class:`TamperedError`) and changes nothing on
        failure."""
        p, n, _keep = _in(message)
        out = _Bytes()
        _call(_lib.hw_session_decrypt, self._p, p, n, byref(out))
        return _take(out)

    @property
    def session_id(self) -> bytes:
        out = (c_uint8 * 32)()
        _call(_lib.hw_session_id, self._p, byref(out))
        return bytes(out)

    @property
    def remote_identity(self) -> bytes:
        out = (c_uint8 * 32)()
        _call(_lib.hw_session_remote_identity, self._p, byref(out))
        return bytes(out)

    def to_encrypted(self, storage_key: bytes, generation: int) -> bytes:
        out = _Bytes()
        _call(
            _lib.hw_session_to_encrypted,
            self._p,
            _key(storage_key, "storage_key"),
            generation,
            byref(out),
        )
        return _take(out)

    @classmethod
    def from_encrypted(
        cls,
        blob: bytes,
        storage_key: bytes,
        min_generation: int = 0,
        expected_peer: Optional[bytes] = None,
    ) -> "Session":
        p, n, _keep = _in(blob)
        return _new(
            cls,
            _lib.hw_session_from_encrypted,
            p,
            n,
            _key(storage_key, "storage_key"),
            min_generation,
            _key(expected_peer, "expected_peer"),
        )


class Account(_Handle):
    """A device's account: identity key and prekeys."""

    _free = _lib.hw_account_free

    @classmethod
    def create(cls, now: int) -> "Account":
        return _new(cls, _lib.hw_account_new, now)

    @property
    def identity_key(self) -> bytes:
        out = (c_uint8 * 32)()
        _call(_lib.hw_account_identity_key, self._p, byref(out))
        return bytes(out)

    def generate_one_time_prekeys(self, x25519: int, kem: int, now: int) -> None:
        _call(_lib.hw_account_generate_one_time_prekeys, self._p, x25519, kem, now)

    def one_time_prekey_counts(self) -> Tuple[int, int]:
        """Unused one-time (X25519, ML-KEM) prekeys held."""
        x, k = c_size_t(), c_size_t()
        _call(_lib.hw_account_one_time_prekey_counts, self._p, byref(x), byref(k))
        return x.value, k.value

    def prekeys_due_for_rotation(self, now: int) -> bool:
        due = c_uint8()
        _call(_lib.hw_account_prekeys_due_for_rotation, self._p, now, byref(due))
        return bool(due.value)

    def rotate_prekeys(self, now: int) -> None:
        _call(_lib.hw_account_rotate_prekeys, self._p, now)

    def prekey_bundle(self) -> bytes:
        out = _Bytes()
        _call(_lib.hw_account_prekey_bundle, self._p, byref(out))
        return _take(out)

    def create_outbound_session(self, bundle: bytes) -> Session:
        p, n, _keep = _in(bundle)
        return _new(Session, _lib.hw_account_create_outbound_session, self._p, p, n)

    def create_inbound_session(self, message: bytes, now: int) -> Tuple[Session, bytes]:
        p, n, _keep = _in(message)
        out, plaintext = c_void_p(), _Bytes()
        _call(
            _lib.hw_account_create_inbound_session,
            self._p,
            p,
            n,
            now,
            byref(out),
            byref(plaintext),
        )
        return Session(out), _take(plaintext)

    # ─── sessions held by the account, resets, user identities ─────────────────────────

    def start_session(self, bundle: bytes) -> Tuple[bytes, list]:
        """Starts a session with the owner of ``bundle``, held by the account and active for
        that peer; returns its id and the events' codes (``"event.peer_evicted"``)."""
        p, n, _keep = _in(bundle)
        sid, events = (c_uint8 * 32)(), _Bytes()
        _call(_lib.hw_account_start_session, self._p, p, n, byref(sid), byref(events))
        return bytes(sid), _events(events)

    def encrypt_for(self, peer: bytes, plaintext: bytes) -> bytes:
        """Encrypts for ``peer`` (identity key) on its active session."""
        p, n, _keep = _in(plaintext)
        out = _Bytes()
        _call(_lib.hw_account_encrypt_for, self._p, _key(peer, "peer"), p, n, byref(out))
        return _take(out)

    def decrypt_from(self, peer: bytes, message: bytes, now: int) -> "PeerDecrypted":
        """Decrypts a message from ``peer`` on the account's sessions with it (a prekey
        message of a new session creates it). On failure nothing changes and the error's
        ``reset_reason`` says whether to answer with :meth:`reset_request`."""
        p, n, _keep = _in(message)
        out, sid, events = _Bytes(), (c_uint8 * 32)(), _Bytes()
        _call(
            _lib.hw_account_decrypt_from,
            self._p,
            _key(peer, "peer"),
            p,
            n,
            now,
            byref(out),
            byref(sid),
            byref(events),
        )
        return PeerDecrypted(_take(out), bytes(sid), _events(events))

    def forget_peer(self, peer: bytes) -> bool:
        """Drops every session with ``peer`` and its reset bookkeeping; whether any was
        held."""
        held = c_uint8()
        _call(_lib.hw_account_forget_peer, self._p, _key(peer, "peer"), byref(held))
        return bool(held.value)

    def peers(self) -> list:
        """The identity keys of the peers the account holds sessions with."""
        out = _Bytes()
        _call(_lib.hw_account_peers, self._p, byref(out))
        return _split32(_take(out))

    def sessions_with(self, peer: bytes) -> list:
        """The ids of the sessions held with ``peer``, the active one first."""
        out = _Bytes()
        _call(_lib.hw_account_sessions_with, self._p, _key(peer, "peer"), byref(out))
        return _split32(_take(out))

    def reset_request(self, peer: bytes, reason: int, since: int, now: int) -> bytes:
        """An authenticated reset request for ``peer`` (send it back sealed); ``reason`` is
        the failed decrypt's :attr:`HushwireError.reset_reason`."""
        out = _Bytes()
        _call(
            _lib.hw_account_reset_request,
            self._p,
            _key(peer, "peer"),
            reason,
            since,
            now,
            byref(out),
        )
        return _take(out)

    def answer_reset(self, request: bytes, bundle: bytes, now: int) -> "ResetAnswered":
        """Checks a reset request and starts a fresh session with the requester from its
        ``bundle``."""
        rp, rn, _k1 = _in(request)
        bp, bn, _k2 = _in(bundle)
        sid, resend, events = (c_uint8 * 32)(), c_uint64(), _Bytes()
        _call(
            _lib.hw_account_answer_reset,
            self._p,
            rp,
            rn,
            bp,
            bn,
            now,
            byref(sid),
            byref(resend),
            byref(events),
        )
        return ResetAnswered(bytes(sid), resend.value, _events(events))

    def record_identity(self, user: Union[str, bytes], identity_key: bytes, now: int) -> list:
        """Records the user's identity key now; returns the events' codes
        (``"event.identity_changed"``)."""
        up, un, _keep = _text(user)
        events = _Bytes()
        _call(
            _lib.hw_account_record_identity,
            self._p,
            up,
            un,
            _key(identity_key, "identity_key"),
            now,
            byref(events),
        )
        return _events(events)

    def mark_verified(self, user: Union[str, bytes], identity_key: bytes, now: int) -> None:
        up, un, _keep = _text(user)
        _call(
            _lib.hw_account_mark_verified, self._p, up, un, _key(identity_key, "identity_key"),
            now,
        )

    def accept_identity_change(self, user: Union[str, bytes], identity_key: bytes) -> None:
        up, un, _keep = _text(user)
        _call(
            _lib.hw_account_accept_identity_change,
            self._p,
            up,
            un,
            _key(identity_key, "identity_key"),
        )

    def clear_verification(self, user: Union[str, bytes], forget: bool = False) -> bool:
        """Drops the user's verification (or, with ``forget``, everything recorded about its
        identity); whether there was anything to drop."""
        up, un, _keep = _text(user)
        changed = c_uint8()
        _call(_lib.hw_account_clear_verification, self._p, up, un, int(forget), byref(changed))
        return bool(changed.value)

    def is_identity_blocked(self, identity_key: bytes) -> bool:
        """Whether :meth:`encrypt_for` refuses the key (a changed verified key, not
        accepted)."""
        out = c_uint8()
        _call(_lib.hw_account_is_identity_blocked, self._p, _key(identity_key, "identity_key"),
              byref(out))
        return bool(out.value)

    def verification_state(self, user: Union[str, bytes]) -> Tuple[int, Optional[bytes]]:
        """``(state, identity key)``: ``VERIFICATION_UNKNOWN`` (no key), ``_UNVERIFIED``,
        ``_VERIFIED`` or ``_CHANGED`` (the new key is refused until accepted)."""
        up, un, _keep = _text(user)
        state, key = c_uint8(), (c_uint8 * 32)()
        _call(_lib.hw_account_verification_state, self._p, up, un, byref(state), byref(key))
        return state.value, (bytes(key) if state.value else None)

    def set_session_config(
        self, max_jump: int, max_skipped_keys: int, max_receiving_chains: int,
        skipped_key_max_age: int,
    ) -> None:
        """The limits of the sessions the account starts from now on."""
        _call(
            _lib.hw_account_set_session_config, self._p, max_jump, max_skipped_keys,
            max_receiving_chains, skipped_key_max_age,
        )

    def session_config(self) -> Tuple[int, int, int, int]:
        """``(max_jump, max_skipped_keys, max_receiving_chains, skipped_key_max_age)``."""
        v = [c_uint32() for _ in range(4)]
        _call(_lib.hw_account_session_config, self._p, *(byref(x) for x in v))
        return tuple(x.value for x in v)

    def maintenance_events(self, now: int) -> list:
        """Housekeeping events' codes: ``"event.prekey_rotation_due"``,
        ``"event.one_time_prekeys_low"``."""
        out = _Bytes()
        _call(_lib.hw_account_maintenance_events, self._p, now, byref(out))
        return _events(out)

    def sign_relay_challenge(self, challenge: bytes) -> bytes:
        """Signs a relay's authentication challenge with the identity key (64 bytes); the
        relay checks it with :func:`relay_challenge_verify`."""
        p, n, _keep = _in(challenge)
        out = (c_uint8 * 64)()
        _call(_lib.hw_account_sign_relay_challenge, self._p, p, n, byref(out))
        return bytes(out)

    def to_encrypted(self, storage_key: bytes, generation: int) -> bytes:
        out = _Bytes()
        _call(
            _lib.hw_account_to_encrypted,
            self._p,
            _key(storage_key, "storage_key"),
            generation,
            byref(out),
        )
        return _take(out)

    @classmethod
    def from_encrypted(cls, blob: bytes, storage_key: bytes, min_generation: int = 0) -> "Account":
        p, n, _keep = _in(blob)
        return _new(
            cls,
            _lib.hw_account_from_encrypted,
            p,
            n,
            _key(storage_key, "storage_key"),
            min_generation,
        )


# ─── certificates and sealed envelopes ───────────────────────────────────────────────────────


class Issuer(_Handle):
    """A certificate issuer key (a trust root or a server key)."""

    _free = _lib.hw_issuer_free

    @classmethod
    def generate(cls) -> "Issuer":
        return _new(cls, _lib.hw_issuer_new)

    @property
    def public_key(self) -> bytes:
        out = (c_uint8 * 32)()
        _call(_lib.hw_issuer_public_key, self._p, byref(out))
        return bytes(out)


class TrustStore(_Handle):
    """The trust roots sender certificates are checked against."""

    _free = _lib.hw_trust_store_free

    @classmethod
    def create(cls) -> "TrustStore":
        return _new(cls, _lib.hw_trust_store_new)

    def add_root(self, root_id: int, key: bytes) -> None:
        _call(_lib.hw_trust_store_add_root, self._p, root_id, _key(key, "key"))


def server_certificate(
    root: Issuer, root_id: int, key_id: int, server_key: bytes, not_before: int, expires_at: int
) -> bytes:
    out = _Bytes()
    _call(
        _lib.hw_server_certificate_issue,
        root._p,
        root_id,
        key_id,
        _key(server_key, "server_key"),
        not_before,
        expires_at,
        byref(out),
    )
    return _take(out)


def sender_certificate(
    server: Issuer,
    server_cert: bytes,
    serial: int,
    user_id: bytes,
    device_id: int,
    identity_key: bytes,
    not_before: int,
    expires_at: int,
) -> bytes:
    cp, cn, _k1 = _in(server_cert)
    up, un, _k2 = _in(user_id)
    out = _Bytes()
    _call(
        _lib.hw_sender_certificate_issue,
        server._p,
        cp,
        cn,
        serial,
        up,
        un,
        device_id,
        _key(identity_key, "identity_key"),
        not_before,
        expires_at,
        byref(out),
    )
    return _take(out)


def seal(
    sender: Account,
    certificate: bytes,
    recipient: bytes,
    message: bytes,
    sent_at: int,
    content_type: int = CONTENT_SESSION,
    expires_after_secs: int = 0,
) -> bytes:
    """Seals `message` for the identity key `recipient`, hiding the sender from the relay."""
    cp, cn, _k1 = _in(certificate)
    mp, mn, _k2 = _in(message)
    out = _Bytes()
    _call(
        _lib.hw_seal,
        sender._p,
        cp,
        cn,
        _key(recipient, "recipient"),
        content_type,
        sent_at,
        expires_after_secs,
        mp,
        mn,
        byref(out),
    )
    return _take(out)


def envelope_recipient(envelope: bytes) -> bytes:
    """The identity key an envelope is addressed to (for a relay's routing)."""
    p, n, _keep = _in(envelope)
    out = (c_uint8 * 32)()
    _call(_lib.hw_envelope_recipient, p, n, byref(out))
    return bytes(out)


class Opened:
    """An opened envelope: the validated sender, the metadata and the inner message."""

    def __init__(self, sender: bytes, content_type: int, sent_at: int, message: bytes):
        self.sender = sender
        self.content_type = content_type
        self.sent_at = sent_at
        self.message = message


def open_envelope(recipient: Account, trust: TrustStore, envelope: bytes, now: int) -> Opened:
    p, n, _keep = _in(envelope)
    message, sender = _Bytes(), (c_uint8 * 32)()
    content_type, sent_at = c_uint8(), c_uint64()
    _call(
        _lib.hw_open,
        recipient._p,
        trust._p,
        p,
        n,
        now,
        byref(message),
        byref(sender),
        byref(content_type),
        byref(sent_at),
    )
    return Opened(bytes(sender), content_type.value, sent_at.value, _take(message))


# ─── groups ──────────────────────────────────────────────────────────────────────────────────


class Group(_Handle):
    """A group session: sender keys and the roster."""

    _free = _lib.hw_group_free

    @classmethod
    def create(cls, account: Account, members: Iterable[bytes]) -> Tuple["Group", bytes, bytes]:
        """Creates a group; returns it, the welcome and the distribution message (send both to
        every member over its 1:1 session)."""
        members = [bytes(m) for m in members]
        for m in members:
            _key(m, "member")
        p, n, _keep = _in(b"".join(members))
        out, welcome, distribution = c_void_p(), _Bytes(), _Bytes()
        _call(
            _lib.hw_group_create,
            account._p,
            p,
            len(members),
            byref(out),
            byref(welcome),
            byref(distribution),
        )
        return cls(out), _take(welcome), _take(distribution)

    @classmethod
    def join(cls, account: Account, welcome: bytes, inviter: bytes) -> Tuple["Group", bytes]:
        p, n, _keep = _in(welcome)
        out, distribution = c_void_p(), _Bytes()
        _call(
            _lib.hw_group_join,
            account._p,
            p,
            n,
            _key(inviter, "inviter"),
            byref(out),
            byref(distribution),
        )
        return cls(out), _take(distribution)

    def receive_distribution(self, session: Session, distribution: bytes) -> None:
        """Accepts a sender key that `session` (with its sender) decrypted."""
        p, n, _keep = _in(distribution)
        _call(_lib.hw_group_receive_distribution, self._p, session._p, p, n)

    def encrypt(self, plaintext: bytes) -> bytes:
        p, n, _keep = _in(plaintext)
        out = _Bytes()
        _call(_lib.hw_group_encrypt, self._p, p, n, byref(out))
        return _take(out)

    def decrypt(self, message: bytes, now: int) -> Tuple[bytes, bytes]:
        """Returns (sender identity key, plaintext)."""
        p, n, _keep = _in(message)
        out, sender = _Bytes(), (c_uint8 * 32)()
        _call(_lib.hw_group_decrypt, self._p, p, n, now, byref(out), byref(sender))
        return bytes(sender), _take(out)

    def add_member(
        self, account: Account, member: bytes, admin: bool = False
    ) -> Tuple[bytes, bytes, bytes]:
        """Adds `member` (we must be an admin). Returns (change, welcome, distribution): send
        `change` to every previous member (:meth:`apply_roster_change`), and `welcome` then
        `distribution` to the new member, who joins with :meth:`join`."""
        change, welcome, distribution = _Bytes(), _Bytes(), _Bytes()
        _call(
            _lib.hw_group_add_member,
            account._p,
            self._p,
            _key(member, "member"),
            1 if admin else 0,
            byref(change),
            byref(welcome),
            byref(distribution),
        )
        return _take(change), _take(welcome), _take(distribution)

    def remove_member(self, account: Account, member: bytes, now: int) -> Tuple[bytes, bytes]:
        """Removes `member` (we must be an admin) and rotates our sender key. Returns (change,
        distribution): `change` for every previous member (the removed one included), the
        fresh `distribution` for every remaining member."""
        change, distribution = _Bytes(), _Bytes()
        _call(
            _lib.hw_group_remove_member,
            account._p,
            self._p,
            _key(member, "member"),
            now,
            byref(change),
            byref(distribution),
        )
        return _take(change), _take(distribution)

    def set_role(self, account: Account, member: bytes, admin: bool) -> bytes:
        """Makes `member` an admin or a plain member (we must be an admin). Returns the change
        for every other member."""
        change = _Bytes()
        _call(
            _lib.hw_group_set_role,
            account._p,
            self._p,
            _key(member, "member"),
            1 if admin else 0,
            byref(change),
        )
        return _take(change)

    def leave(self, account: Account) -> bytes:
        """Leaves the group (every key here is erased). Returns the change for the other
        members; raises :class:`InvalidInputError` (``roster.last_admin``) for the only
        admin."""
        change = _Bytes()
        _call(_lib.hw_group_leave, account._p, self._p, byref(change))
        return _take(change)

    def rotate_sender_key(self, account: Account) -> bytes:
        """Starts a new sender key; returns its distribution message for every other
        member."""
        distribution = _Bytes()
        _call(_lib.hw_group_rotate_sender_key, account._p, self._p, byref(distribution))
        return _take(distribution)

    def apply_roster_change(self, account: Account, change: bytes, now: int) -> bytes:
        """Applies an admin's roster change. Returns the distribution message to send (empty
        if none): to the new member after an addition, to every remaining member after a
        removal."""
        p, n, _keep = _in(change)
        distribution = _Bytes()
        _call(
            _lib.hw_group_apply_roster_change,
            account._p,
            self._p,
            p,
            n,
            now,
            byref(distribution),
        )
        return _take(distribution)

    def members(self) -> list:
        """``[(identity key, is_admin)]``: the current roster."""
        out = _Bytes()
        _call(_lib.hw_group_members, self._p, byref(out))
        data = _take(out)
        return [(data[i : i + 32], bool(data[i + 32])) for i in range(0, len(data), 33)]

    @property
    def epoch(self) -> int:
        out = c_uint64()
        _call(_lib.hw_group_epoch, self._p, byref(out), None)
        return out.value

    @property
    def is_member(self) -> bool:
        out = c_uint8()
        _call(_lib.hw_group_epoch, self._p, None, byref(out))
        return bool(out.value)

    @property
    def group_id(self) -> bytes:
        out = (c_uint8 * 32)()
        _call(_lib.hw_group_id, self._p, byref(out))
        return bytes(out)

    def to_encrypted(self, storage_key: bytes, generation: int) -> bytes:
        out = _Bytes()
        _call(
            _lib.hw_group_to_encrypted,
            self._p,
            _key(storage_key, "storage_key"),
            generation,
            byref(out),
        )
        return _take(out)

    @classmethod
    def from_encrypted(
        cls,
        blob: bytes,
        storage_key: bytes,
        min_generation: int = 0,
        expected_group: Optional[bytes] = None,
    ) -> "Group":
        p, n, _keep = _in(blob)
        return _new(
            cls,
            _lib.hw_group_from_encrypted,
            p,
            n,
            _key(storage_key, "storage_key"),
            min_generation,
            _key(expected_group, "expected_group"),
        )


def relay_challenge_verify(identity_key: bytes, challenge: bytes, signature: bytes) -> bool:
    """The relay's side of :meth:`Account.sign_relay_challenge`."""
    if len(signature) != 64:
        raise ValueError(f"signature must be 64 bytes, got {len(signature)}")
    cp, cn, _k1 = _in(challenge)
    sp, _sn, _k2 = _in(signature)
    valid = c_uint8()
    _call(
        _lib.hw_relay_challenge_verify,
        _key(identity_key, "identity_key"),
        cp,
        cn,
        sp,
        byref(valid),
    )
    return bool(valid.value)


# ─── attachments ─────────────────────────────────────────────────────────────────────────────


class AttachmentInfo(NamedTuple):
    """What an attachment pointer says (it also holds the key, which is not shown)."""

    plaintext_len: int
    object_len: int
    content_type: str
    file_name: str


def attachment_encrypt(
    plaintext: bytes, content_type: str = "", file_name: str = ""
) -> Tuple[bytes, bytes]:
    """Encrypts a whole file: returns (object, pointer). Upload `object` anywhere; send
    `pointer` (it holds the key) inside an encrypted message."""
    p, n, _k1 = _in(plaintext)
    cp, cn, _k2 = _text(content_type)
    fp, fn, _k3 = _text(file_name)
    obj, pointer = _Bytes(), _Bytes()
    _call(_lib.hw_attachment_encrypt, p, n, cp, cn, fp, fn, byref(obj), byref(pointer))
    return _take(obj), _take(pointer)


def attachment_decrypt(pointer: bytes, obj: bytes) -> bytes:
    """Decrypts a whole stored object; raises :class:`TamperedError` if any chunk was
    altered, cut, reordered or is from another file."""
    pp, pn, _k1 = _in(pointer)
    op, on, _k2 = _in(obj)
    out = _Bytes()
    _call(_lib.hw_attachment_decrypt, pp, pn, op, on, byref(out))
    return _take(out)


def attachment_verify_digest(pointer: bytes, obj: bytes) -> None:
    """Checks a downloaded object's length and SHA-256 against its pointer before decrypting;
    raises :class:`TamperedError` on a mismatch."""
    pp, pn, _k1 = _in(pointer)
    op, on, _k2 = _in(obj)
    _call(_lib.hw_attachment_verify_digest, pp, pn, op, on)


def attachment_thumbnail(pointer: bytes) -> bytes:
    """The pointer's inline thumbnail (empty if none)."""
    p, n, _keep = _in(pointer)
    out = _Bytes()
    _call(_lib.hw_attachment_pointer_thumbnail, p, n, byref(out))
    return _take(out)


def attachment_set_thumbnail(pointer: bytes, thumbnail: bytes) -> bytes:
    """A copy of ``pointer`` carrying ``thumbnail`` (empty removes it)."""
    p, n, _k1 = _in(pointer)
    tp, tn, _k2 = _in(thumbnail)
    out = _Bytes()
    _call(_lib.hw_attachment_pointer_set_thumbnail, p, n, tp, tn, byref(out))
    return _take(out)


def attachment_object_range(pointer: bytes, start: int, end: int) -> Tuple[int, int]:
    """The object bytes ``(start, end)`` to fetch to read the file bytes ``start:end``."""
    p, n, _keep = _in(pointer)
    a, b = c_uint64(), c_uint64()
    _call(_lib.hw_attachment_object_range, p, n, start, end, byref(a), byref(b))
    return a.value, b.value


def attachment_decrypt_range(pointer: bytes, start: int, end: int, ciphertext: bytes) -> bytes:
    """The file bytes ``start:end`` from the object bytes :func:`attachment_object_range`
    names."""
    p, n, _k1 = _in(pointer)
    cp, cn, _k2 = _in(ciphertext)
    out = _Bytes()
    _call(_lib.hw_attachment_decrypt_range, p, n, start, end, cp, cn, byref(out))
    return _take(out)


def attachment_chunk_range(pointer: bytes, index: int) -> Tuple[int, int, int]:
    """``(object start, object end, chunk count)`` for chunk ``index``."""
    p, n, _keep = _in(pointer)
    a, b, c = c_uint64(), c_uint64(), c_uint64()
    _call(_lib.hw_attachment_chunk_range, p, n, index, byref(a), byref(b), byref(c))
    return a.value, b.value, c.value


def attachment_decrypt_chunk(pointer: bytes, index: int, chunk: bytes) -> bytes:
    """The file bytes of chunk ``index`` alone."""
    p, n, _k1 = _in(pointer)
    cp, cn, _k2 = _in(chunk)
    out = _Bytes()
    _call(_lib.hw_attachment_decrypt_chunk, p, n, index, cp, cn, byref(out))
    return _take(out)


def attachment_pointer_info(pointer: bytes) -> AttachmentInfo:
    p, n, _keep = _in(pointer)
    plaintext_len, object_len = c_uint64(), c_uint64()
    content_type, file_name = _Bytes(), _Bytes()
    _call(
        _lib.hw_attachment_pointer_info,
        p,
        n,
        byref(plaintext_len),
        byref(object_len),
        byref(content_type),
        byref(file_name),
    )
    return AttachmentInfo(
        plaintext_len.value,
        object_len.value,
        _take(content_type).decode("utf-8"),
        _take(file_name).decode("utf-8"),
    )


class AttachmentEncryptor(_Handle):
    """Encrypts a file of any size in pieces, holding less than one chunk::

        with AttachmentEncryptor.create() as enc:
            for piece in pieces:
                upload(enc.push(piece))
            tail, pointer = enc.finish("video/mp4", "clip.mp4")
            upload(tail)
    """

    _free = _lib.hw_attachment_encryptor_free

    @classmethod
    def create(cls, chunk_size_log2: Optional[int] = None) -> "AttachmentEncryptor":
        """A new encryptor; ``chunk_size_log2`` (12 to 22) picks chunks of ``2**n`` bytes
        instead of the default 64 KiB."""
        if chunk_size_log2 is None:
            return _new(cls, _lib.hw_attachment_encryptor_new)
        return _new(cls, _lib.hw_attachment_encryptor_new_with_chunk_size, chunk_size_log2)

    def push(self, plaintext: bytes) -> bytes:
        """Adds file bytes; returns the object bytes now ready (often none)."""
        p, n, _keep = _in(plaintext)
        out = _Bytes()
        _call(_lib.hw_attachment_encryptor_push, self._p, p, n, byref(out))
        return _take(out)

    def finish(self, content_type: str = "", file_name: str = "") -> Tuple[bytes, bytes]:
        """Ends the file: returns (the rest of the object, the pointer). Afterwards every call
        raises :class:`InvalidInputError` (code ``attachment.finished``)."""
        cp, cn, _k1 = _text(content_type)
        fp, fn, _k2 = _text(file_name)
        out, pointer = _Bytes(), _Bytes()
        _call(
            _lib.hw_attachment_encryptor_finish,
            self._p,
            cp,
            cn,
            fp,
            fn,
            byref(out),
            byref(pointer),
        )
        return _take(out), _take(pointer)


class AttachmentDecryptor(_Handle):
    """Decrypts a stored object as it streams in, releasing only verified chunks. On any
    error nothing changes: push the right bytes again from :attr:`position`."""

    _free = _lib.hw_attachment_decryptor_free

    @classmethod
    def create(cls, pointer: bytes) -> "AttachmentDecryptor":
        p, n, _keep = _in(pointer)
        return _new(cls, _lib.hw_attachment_decryptor_new, p, n)

    def push(self, ciphertext: bytes) -> bytes:
        """Takes the next object bytes; returns the file bytes of every chunk they complete."""
        p, n, _keep = _in(ciphertext)
        out = _Bytes()
        _call(_lib.hw_attachment_decryptor_push, self._p, p, n, byref(out))
        return _take(out)

    @property
    def position(self) -> int:
        """Object bytes taken so far (where to resume a download)."""
        out = c_uint64()
        _call(_lib.hw_attachment_decryptor_position, self._p, byref(out))
        return out.value

    def finish(self) -> None:
        """Raises :class:`TamperedError` unless the whole file arrived (the decryptor goes
        on: push the rest and finish again)."""
        _call(_lib.hw_attachment_decryptor_finish, self._p)


# ─── masking ─────────────────────────────────────────────────────────────────────────────────


class Masked(NamedTuple):
    """The masked text, and whether anything was masked."""

    text: str
    changed: bool


def mask(text: Union[str, bytes]) -> Masked:
    """Masks card numbers, IBANs, e-mail addresses and phone numbers with the default masker
    (a card keeps its last four digits). Bytes that are not UTF-8 raise
    :class:`InvalidArgumentError`."""
    p, n, _keep = _text(text)
    out, changed = _Bytes(), c_uint8()
    _call(_lib.hw_mask_text, p, n, byref(out), byref(changed))
    return Masked(_take(out).decode("utf-8"), bool(changed.value))


class Finding(NamedTuple):
    """A match of :func:`mask_find`: kind (``KIND_*``), policy (``POLICY_*``), and its span
    as ``str`` indices (``text[start:end]``)."""

    kind: int
    policy: int
    start: int
    end: int


def mask_find(text: str) -> list:
    """What the default masker would mask in ``text``, without masking it."""
    raw = text.encode("utf-8")
    p, n, _keep = _in(raw)
    out = _Bytes()
    _call(_lib.hw_mask_find, p, n, byref(out))
    return _findings(raw, _take(out))


def _findings(raw: bytes, data: bytes) -> list:
    found = []
    for i in range(0, len(data), 10):
        start = int.from_bytes(data[i + 2 : i + 6], "big")
        end = int.from_bytes(data[i + 6 : i + 10], "big")
        # Byte offsets of the UTF-8 text, as ``str`` indices.
        found.append(
            Finding(
                data[i], data[i + 1], len(raw[:start].decode("utf-8")),
                len(raw[:end].decode("utf-8")),
            )
        )
    return found


class Masker(_Handle):
    """A masker with the app's policy per kind (``POLICY_*``, or 0 not to look for it)."""

    _free = _lib.hw_masker_free

    @classmethod
    def create(cls, card: int = POLICY_KEEP_LAST4, iban: int = POLICY_KEEP_LAST4,
               email: int = POLICY_FLAG_ONLY, phone: int = 0) -> "Masker":
        return _new(cls, _lib.hw_masker_new, card, iban, email, phone)

    def mask(self, text: Union[str, bytes]) -> "Masked":
        p, n, _keep = _text(text)
        out, changed = _Bytes(), c_uint8()
        _call(_lib.hw_masker_mask, self._p, p, n, byref(out), byref(changed))
        return Masked(_take(out).decode("utf-8"), bool(changed.value))

    def find(self, text: str) -> list:
        raw = text.encode("utf-8")
        p, n, _keep = _in(raw)
        out = _Bytes()
        _call(_lib.hw_masker_find, self._p, p, n, byref(out))
        return _findings(raw, _take(out))

    def check(self, text: Union[str, bytes]) -> None:
        p, n, _keep = _text(text)
        _call(_lib.hw_masker_check, self._p, p, n)


def mask_check(text: Union[str, bytes]) -> None:
    """The receiver's check: raises :class:`InvalidInputError` (code
    ``mask_check.unmasked``) if `text` holds anything the default masker would mask."""
    p, n, _keep = _text(text)
    _call(_lib.hw_mask_check, p, n)


# ─── verification ────────────────────────────────────────────────────────────────────────────


def _safety_args(local_user, local_key, remote_user, remote_key):
    lp, ln, k1 = _text(local_user)
    rp, rn, k2 = _text(remote_user)
    keep = (k1, k2, _key(local_key, "local_key"), _key(remote_key, "remote_key"))
    return (lp, ln, keep[2], rp, rn, keep[3]), keep


def safety_number(
    local_user: Union[str, bytes], local_key: bytes, remote_user: Union[str, bytes],
    remote_key: bytes,
) -> str:
    """The 60-digit safety number between us and the peer (the same on both sides)."""
    args, _keep = _safety_args(local_user, local_key, remote_user, remote_key)
    out = _Bytes()
    _call(_lib.hw_safety_number, *args, byref(out))
    return _take(out).decode("ascii")


def safety_number_qr(
    local_user: Union[str, bytes], local_key: bytes, remote_user: Union[str, bytes],
    remote_key: bytes,
) -> bytes:
    """The bytes to show as a QR code for the peer to scan."""
    args, _keep = _safety_args(local_user, local_key, remote_user, remote_key)
    out = _Bytes()
    _call(_lib.hw_safety_number_qr, *args, byref(out))
    return _take(out)


def verify_scanned_safety_number(
    local_user: Union[str, bytes], local_key: bytes, remote_user: Union[str, bytes],
    remote_key: bytes, payload: bytes,
) -> None:
    """Checks a QR payload scanned from the peer's screen; raises :class:`TamperedError`
    (code ``verify.other_pair``) if it names other keys."""
    args, _keep = _safety_args(local_user, local_key, remote_user, remote_key)
    p, n, _k = _in(payload)
    _call(_lib.hw_safety_number_verify_scanned, *args, p, n)


class OrganizationRoots(_Handle):
    """The organization roots a customer's app pins (from its configuration), each with the
    organization's name."""

    _free = _lib.hw_organization_roots_free

    @classmethod
    def create(cls) -> "OrganizationRoots":
        return _new(cls, _lib.hw_organization_roots_new)

    def pin(self, root_id: int, key: bytes, organization: str) -> None:
        p, n, _keep = _text(organization)
        _call(_lib.hw_organization_roots_pin, self._p, root_id, _key(key, "key"), p, n)

    def unpin(self, root_id: int) -> bool:
        """Unpins `root_id`; returns whether it was pinned."""
        was = c_uint8()
        _call(_lib.hw_organization_roots_unpin, self._p, root_id, byref(was))
        return bool(was.value)

    def revoke_key(self, root_id: int, key_id: int) -> None:
        _call(_lib.hw_organization_roots_revoke_key, self._p, root_id, key_id)

    def revoke_certificate(self, root_id: int, key_id: int, serial: int) -> None:
        _call(_lib.hw_organization_roots_revoke_certificate, self._p, root_id, key_id, serial)


def identity_certificate(
    organization_key: Issuer,
    organization_key_certificate: bytes,
    serial: int,
    organization: str,
    operator_name: str,
    role: str,
    identity_key: bytes,
    not_before: int,
    expires_at: int,
) -> bytes:
    """Certifies an operator's device (at most 7 days) with an organization key, whose
    certificate from the organization's root is `organization_key_certificate`."""
    cp, cn, _k1 = _in(organization_key_certificate)
    op, on, _k2 = _text(organization)
    np_, nn, _k3 = _text(operator_name)
    rp, rn, _k4 = _text(role)
    out = _Bytes()
    _call(
        _lib.hw_identity_certificate_issue,
        organization_key._p,
        cp,
        cn,
        serial,
        op,
        on,
        np_,
        nn,
        rp,
        rn,
        _key(identity_key, "identity_key"),
        not_before,
        expires_at,
        byref(out),
    )
    return _take(out)


class BusinessIdentity(NamedTuple):
    """A verified operator: ``str()`` gives ``verified as <organization>, <name>, <role>``."""

    display: str
    organization: str
    operator_name: str
    role: str
    valid_until: int

    def __str__(self) -> str:
        return self.display


def verify_operator(
    certificate: bytes, operator: bytes, roots: OrganizationRoots, now: int
) -> BusinessIdentity:
    """Checks an operator's identity certificate for a session whose remote identity is
    `operator`; raises :class:`UntrustedError` (unknown organization, expired, revoked) or
    :class:`TamperedError` (forged, another key)."""
    p, n, _keep = _in(certificate)
    display, org, name, role = _Bytes(), _Bytes(), _Bytes(), _Bytes()
    until = c_uint64()
    _call(
        _lib.hw_verify_operator,
        p,
        n,
        _key(operator, "operator"),
        roots._p,
        now,
        byref(display),
        byref(org),
        byref(name),
        byref(role),
        byref(until),
    )
    return BusinessIdentity(
        _take(display).decode("utf-8"),
        _take(org).decode("utf-8"),
        _take(name).decode("utf-8"),
        _take(role).decode("utf-8"),
        until.value,
    )


# ─── account-held sessions and resets ────────────────────────────────────────────────────────


class PeerDecrypted(NamedTuple):
    plaintext: bytes
    session_id: bytes
    events: list


class ResetAnswered(NamedTuple):
    session_id: bytes
    resend_since: int
    events: list


class ResetRequestInfo(NamedTuple):
    requester: bytes
    reason: int
    since: int


def reset_request_info(request: bytes) -> ResetRequestInfo:
    """Reads a reset request without checking it: who asks (fetch its bundle), why, since
    when."""
    p, n, _keep = _in(request)
    requester, reason, since = (c_uint8 * 32)(), c_uint8(), c_uint64()
    _call(_lib.hw_reset_request_info, p, n, byref(requester), byref(reason), byref(since))
    return ResetRequestInfo(bytes(requester), reason.value, since.value)


# ─── key backup ──────────────────────────────────────────────────────────────────────────────


class RecoveryKey(_Handle):
    """The user's recovery key, the one secret that opens the backup."""

    _free = _lib.hw_recovery_key_free

    @classmethod
    def generate(cls) -> "RecoveryKey":
        return _new(cls, _lib.hw_recovery_key_generate)

    @classmethod
    def from_display(cls, text: Union[str, bytes]) -> "RecoveryKey":
        """Reads a typed key; a typo raises :class:`InvalidInputError` with code
        ``backup.recovery_key_mistyped``."""
        p, n, _keep = _text(text)
        return _new(cls, _lib.hw_recovery_key_from_display, p, n)

    def wrap(
        self, passphrase: Union[str, bytes], memory_kib: int = 0, iterations: int = 0,
        lanes: int = 0,
    ) -> bytes:
        """The key wrapped under a passphrase with Argon2id (all parameters 0: the
        defaults)."""
        p, n, _keep = _text(passphrase)
        out = _Bytes()
        _call(_lib.hw_recovery_key_wrap, self._p, p, n, memory_kib, iterations, lanes, byref(out))
        return _take(out)

    def to_display(self) -> str:
        """55 characters in 11 groups of 5: show them once."""
        out = _Bytes()
        _call(_lib.hw_recovery_key_to_display, self._p, byref(out))
        return _take(out).decode("ascii")


class Appended(NamedTuple):
    """An append's sealed entries (an entry list: concatenate it to the stored one) and the
    manifest that replaces the stored one."""

    entries: bytes
    manifest: bytes


def _appended(fn, *args) -> Appended:
    entries, manifest = _Bytes(), _Bytes()
    _call(fn, *args, byref(entries), byref(manifest))
    return Appended(_take(entries), _take(manifest))


class BackupWriter(_Handle):
    """A device's handle on a backup: appends without the recovery key, reads nothing."""

    _free = _lib.hw_backup_writer_free

    @classmethod
    def create(
        cls, key: RecoveryKey, now: int, wrapped: Optional[bytes] = None
    ) -> Tuple["BackupWriter", bytes]:
        """Starts a backup; ``wrapped`` is the passphrase wrap that will be stored with it
        (:meth:`RecoveryKey.wrap`), if any."""
        wp, wn, _keep = _in(wrapped)
        out, manifest = c_void_p(), _Bytes()
        _call(_lib.hw_backup_writer_create, key._p, wp, wn, now, byref(out), byref(manifest))
        return cls(out), _take(manifest)

    @classmethod
    def enroll(cls, key: RecoveryKey, manifest: bytes, now: int) -> Tuple["BackupWriter", bytes]:
        p, n, _keep = _in(manifest)
        out, new = c_void_p(), _Bytes()
        _call(_lib.hw_backup_writer_enroll, key._p, p, n, now, byref(out), byref(new))
        return cls(out), _take(new)

    @classmethod
    def resume(cls, public_key: bytes, device_seed: bytes, manifest: bytes) -> "BackupWriter":
        pp, pn, _k1 = _in(public_key)
        mp, mn, _k2 = _in(manifest)
        return _new(
            cls, _lib.hw_backup_writer_resume, pp, pn, _key(device_seed, "device_seed"), mp, mn
        )

    def append_account(self, account: Account, include_identity: bool, now: int) -> Appended:
        return _appended(
            _lib.hw_backup_writer_append_account, self._p, account._p, int(include_identity), now
        )

    def append_group(self, group: "Group", now: int) -> Appended:
        return _appended(_lib.hw_backup_writer_append_group, self._p, group._p, now)

    def append_app_data(self, record_id: bytes, data: bytes, now: int) -> Appended:
        p, n, _keep = _in(data)
        return _appended(
            _lib.hw_backup_writer_append_app_data, self._p, _key(record_id, "record_id"), p, n,
            now,
        )

    @property
    def counter(self) -> int:
        out = c_uint64()
        _call(_lib.hw_backup_writer_counter, self._p, byref(out), None)
        return out.value

    @property
    def entry_count(self) -> int:
        out = c_size_t()
        _call(_lib.hw_backup_writer_counter, self._p, None, byref(out))
        return out.value

    @property
    def manifest(self) -> bytes:
        out = _Bytes()
        _call(_lib.hw_backup_writer_manifest, self._p, byref(out))
        return _take(out)

    def export(self) -> Tuple[bytes, bytes]:
        """``(public key, device seed)`` for :meth:`resume` (keep the seed in a key store)."""
        public, seed = _Bytes(), (c_uint8 * 32)()
        _call(_lib.hw_backup_writer_export, self._p, byref(public), byref(seed))
        return _take(public), bytes(seed)

    def accept_manifest(self, manifest: bytes) -> None:
        p, n, _keep = _in(manifest)
        _call(_lib.hw_backup_writer_accept_manifest, self._p, p, n)


def backup_encode(manifest: bytes, entries: bytes, wrapped: Optional[bytes] = None) -> bytes:
    """The bytes to store: the passphrase wrap (if any), the latest manifest and the entry
    list of every append so far."""
    wp, wn, _k0 = _in(wrapped)
    mp, mn, _k1 = _in(manifest)
    ep, en, _k2 = _in(entries)
    out = _Bytes()
    _call(_lib.hw_backup_encode, wp, wn, mp, mn, ep, en, byref(out))
    return _take(out)


def backup_unwrap_recovery_key(stored: bytes, passphrase: Union[str, bytes]) -> "RecoveryKey":
    """Opens the passphrase wrap stored in a backup; a wrong passphrase raises
    :class:`TamperedError` (``backup.wrong_passphrase``)."""
    sp, sn, _k1 = _in(stored)
    pp, pn, _k2 = _text(passphrase)
    return _new(RecoveryKey, _lib.hw_backup_unwrap_recovery_key, sp, sn, pp, pn)


class RestoredBackup(_Handle):
    """What a restore gave back."""

    _free = _lib.hw_restored_backup_free

    @property
    def counter(self) -> int:
        out = c_uint64()
        _call(_lib.hw_restored_backup_counter, self._p, byref(out), None)
        return out.value

    @property
    def written_at(self) -> int:
        out = c_uint64()
        _call(_lib.hw_restored_backup_counter, self._p, None, byref(out))
        return out.value

    def groups(self) -> list:
        """A new :class:`Group` for every restored group session."""
        count = c_size_t()
        _call(_lib.hw_restored_backup_group_count, self._p, byref(count))
        return [_new(Group, _lib.hw_restored_backup_group, self._p, i) for i in range(count.value)]

    @property
    def sessions_to_restart(self) -> list:
        out = _Bytes()
        _call(_lib.hw_restored_backup_sessions_to_restart, self._p, byref(out))
        return _split32(_take(out))

    @property
    def has_identity(self) -> bool:
        out = c_uint8()
        _call(_lib.hw_restored_backup_has_identity, self._p, byref(out))
        return bool(out.value)

    def apply_identity_book(self, account: Account) -> None:
        """Replaces ``account``'s identity book with the restored one, if any."""
        _call(_lib.hw_restored_backup_apply_identity_book, self._p, account._p)

    def to_account(self, now: int) -> Account:
        return _new(Account, _lib.hw_restored_backup_to_account, self._p, now)

    def app_data(self) -> list:
        """``[(id, bytes)]``: the app's restored records."""
        count = c_size_t()
        _call(_lib.hw_restored_backup_app_data_count, self._p, byref(count))
        records = []
        for i in range(count.value):
            rid, out = (c_uint8 * 32)(), _Bytes()
            _call(_lib.hw_restored_backup_app_data, self._p, i, byref(rid), byref(out))
            records.append((bytes(rid), _take(out)))
        return records


def backup_restore(key: RecoveryKey, stored: bytes, min_counter: int = 0) -> RestoredBackup:
    p, n, _keep = _in(stored)
    return _new(RestoredBackup, _lib.hw_backup_restore, key._p, p, n, min_counter)


# ─── short authentication strings ────────────────────────────────────────────────────────────


def _sas_session(session, account, peer):
    """The (session, account, peer) arguments naming a run's session."""
    if session is not None:
        return session._p, None, None
    if account is None or peer is None:
        raise ValueError("pass a session, or an account and a peer")
    return None, account._p, _key(peer, "peer")


class Sas(_Handle):
    """A short-authentication-string run. Name the session as ``session=`` (a
    :class:`Session`) or as ``account=`` and ``peer=`` (the account-held active session)."""

    _free = _lib.hw_sas_free

    @classmethod
    def start(cls, now: int, session=None, account=None, peer=None) -> Tuple["Sas", bytes]:
        """Starts a run; returns it and the start message to send on the session."""
        s, a, p = _sas_session(session, account, peer)
        out, message = c_void_p(), _Bytes()
        _call(_lib.hw_sas_start, s, a, p, now, byref(out), byref(message))
        return cls(out), _take(message)

    @classmethod
    def accept(cls, start: bytes, now: int, session=None, account=None, peer=None):
        """Answers a start message; returns the run and the accept message to send."""
        s, a, p = _sas_session(session, account, peer)
        sp, sn, _keep = _in(start)
        out, message = c_void_p(), _Bytes()
        _call(_lib.hw_sas_accept, s, a, p, sp, sn, now, byref(out), byref(message))
        return cls(out), _take(message)

    def receive_accept(self, accept: bytes, now: int, session=None, account=None, peer=None):
        """The starter's step: returns the reveal message to send; the run is then ready."""
        s, a, p = _sas_session(session, account, peer)
        mp, mn, _keep = _in(accept)
        reveal = _Bytes()
        _call(_lib.hw_sas_receive_accept, self._p, s, a, p, mp, mn, now, byref(reveal))
        return _take(reveal)

    def receive_reveal(self, reveal: bytes, now: int, session=None, account=None, peer=None):
        """The accepter's step; the run is then ready."""
        s, a, p = _sas_session(session, account, peer)
        mp, mn, _keep = _in(reveal)
        _call(_lib.hw_sas_receive_reveal, self._p, s, a, p, mp, mn, now)

    @property
    def is_ready(self) -> bool:
        out = c_uint8()
        _call(_lib.hw_sas_is_ready, self._p, byref(out))
        return bool(out.value)

    @property
    def emoji(self) -> Tuple[int, ...]:
        """The 7 emoji as indices into the SAS emoji table."""
        out = (c_uint8 * 7)()
        _call(_lib.hw_sas_emoji, self._p, byref(out))
        return tuple(out)

    @property
    def emoji_text(self) -> str:
        """The symbols, a newline, and their names to read aloud."""
        out = _Bytes()
        _call(_lib.hw_sas_emoji_text, self._p, byref(out))
        return _take(out).decode("utf-8")

    @property
    def decimal(self) -> str:
        """Three numbers separated by spaces."""
        out = _Bytes()
        _call(_lib.hw_sas_decimal, self._p, byref(out))
        return _take(out).decode("ascii")

    @property
    def remote_identity(self) -> bytes:
        """The key a matching string verifies (mark it verified)."""
        out = (c_uint8 * 32)()
        _call(_lib.hw_sas_remote_identity, self._p, byref(out))
        return bytes(out)


# ─── secure fields ───────────────────────────────────────────────────────────────────────────


class SecureField(NamedTuple):
    """A sealed secure field: the operator's copy (``masked_field``, send it inside an
    ordinary message) and the envelope for the vault."""

    masked_field: bytes
    envelope: bytes


def secure_field_seal(
    account: Account, certificate: bytes, vault: bytes, kind: int, policy: int,
    value: Union[str, bytes], now: int,
) -> SecureField:
    """Seals ``value`` (a card number typed in a payment field, ...) to the vault's identity
    key; ``kind`` is a ``KIND_*`` and ``policy`` a ``POLICY_*``."""
    cp, cn, _k1 = _in(certificate)
    vp, vn, _k2 = _text(value)
    field, envelope = _Bytes(), _Bytes()
    _call(
        _lib.hw_secure_field_seal,
        account._p,
        cp,
        cn,
        _key(vault, "vault"),
        kind,
        policy,
        vp,
        vn,
        now,
        byref(field),
        byref(envelope),
    )
    return SecureField(_take(field), _take(envelope))


class MaskedFieldInfo(NamedTuple):
    masked: str
    kind: int
    policy: int
    reference: bytes


def masked_field_info(masked_field: bytes) -> MaskedFieldInfo:
    """What the operator shows: the masked form, and the reference to name it to the vault."""
    p, n, _keep = _in(masked_field)
    masked, kind, policy, reference = _Bytes(), c_uint8(), c_uint8(), (c_uint8 * 16)()
    _call(
        _lib.hw_masked_field_info, p, n, byref(masked), byref(kind), byref(policy),
        byref(reference),
    )
    return MaskedFieldInfo(_take(masked).decode("utf-8"), kind.value, policy.value,
                           bytes(reference))


class VaultedField(_Handle):
    """A secure field as the vault holds it (the raw value is wiped on close)."""

    _free = _lib.hw_vaulted_field_free

    @classmethod
    def open(cls, vault: Account, trust: "TrustStore", envelope: bytes, now: int):
        p, n, _keep = _in(envelope)
        return _new(cls, _lib.hw_vaulted_field_open, vault._p, trust._p, p, n, now)

    def verify(self, masked_field: bytes) -> None:
        """Raises :class:`TamperedError` (``secure_field.mismatch``) unless ``masked_field``
        is the operator's copy of this value."""
        p, n, _keep = _in(masked_field)
        _call(_lib.hw_vaulted_field_verify, self._p, p, n)

    def value(self) -> Tuple[str, bytes, int, bytes]:
        """``(value, reference, kind, sender identity key)``."""
        out, reference, kind, sender = _Bytes(), (c_uint8 * 16)(), c_uint8(), (c_uint8 * 32)()
        _call(
            _lib.hw_vaulted_field_value, self._p, byref(out), byref(reference), byref(kind),
            byref(sender),
        )
        return _take(out).decode("utf-8"), bytes(reference), kind.value, bytes(sender)


# ─── labelled state blobs ────────────────────────────────────────────────────────────────────


class BlobInfo(NamedTuple):
    type_tag: int
    generation: int
    version: int


def blob_info(blob: bytes) -> BlobInfo:
    """A state blob's header, read without the key (1 account, 2 session, 3 group)."""
    p, n, _keep = _in(blob)
    tag, generation, version = c_uint8(), c_uint64(), ctypes.c_uint16()
    _call(_lib.hw_blob_info, p, n, byref(tag), byref(generation), byref(version))
    return BlobInfo(tag.value, generation.value, version.value)


def _to_labeled(fn, handle, storage_key: bytes, label: bytes, generation: int) -> bytes:
    lp, ln, _keep = _in(label)
    out = _Bytes()
    _call(fn, handle._p, _key(storage_key, "storage_key"), lp, ln, generation, byref(out))
    return _take(out)


def account_to_encrypted_labeled(account, storage_key, label, generation) -> bytes:
    return _to_labeled(_lib.hw_account_to_encrypted_labeled, account, storage_key, label,
                       generation)


def session_to_encrypted_labeled(session, storage_key, label, generation) -> bytes:
    return _to_labeled(_lib.hw_session_to_encrypted_labeled, session, storage_key, label,
                       generation)


def group_to_encrypted_labeled(group, storage_key, label, generation) -> bytes:
    return _to_labeled(_lib.hw_group_to_encrypted_labeled, group, storage_key, label,
                       generation)


def account_from_encrypted_labeled(blob, storage_key, label, min_generation=0) -> "Account":
    bp, bn, _k1 = _in(blob)
    lp, ln, _k2 = _in(label)
    return _new(Account, _lib.hw_account_from_encrypted_labeled, bp, bn,
                _key(storage_key, "storage_key"), min_generation, lp, ln)


def session_from_encrypted_labeled(
    blob, storage_key, label, min_generation=0, expected_peer=None
) -> "Session":
    bp, bn, _k1 = _in(blob)
    lp, ln, _k2 = _in(label)
    return _new(Session, _lib.hw_session_from_encrypted_labeled, bp, bn,
                _key(storage_key, "storage_key"), min_generation,
                _key(expected_peer, "expected_peer"), lp, ln)


def group_from_encrypted_labeled(
    blob, storage_key, label, min_generation=0, expected_group=None
) -> "Group":
    bp, bn, _k1 = _in(blob)
    lp, ln, _k2 = _in(label)
    return _new(Group, _lib.hw_group_from_encrypted_labeled, bp, bn,
                _key(storage_key, "storage_key"), min_generation,
                _key(expected_group, "expected_group"), lp, ln)


# ─── sealed envelopes straight into sessions ─────────────────────────────────────────────────


class OpenedMessage(NamedTuple):
    plaintext: bytes
    sender: bytes
    session_id: bytes
    events: list


def account_open_and_decrypt(account: Account, trust: "TrustStore", envelope: bytes,
                             now: int) -> OpenedMessage:
    """Opens an envelope and decrypts it on the account's sessions with the sender. On
    failure the error's ``sender`` attribute names the sender if the envelope opened."""
    p, n, _keep = _in(envelope)
    out, sender, sid, events = _Bytes(), (c_uint8 * 32)(), (c_uint8 * 32)(), _Bytes()
    try:
        _call(_lib.hw_account_open_and_decrypt, account._p, trust._p, p, n, now, byref(out),
              byref(sender), byref(sid), byref(events))
    except HushwireError as e:
        e.sender = bytes(sender) if any(sender) else None
        raise
    return OpenedMessage(_take(out), bytes(sender), bytes(sid), _events(events))


def session_open_and_decrypt(account: Account, session: Session, trust: "TrustStore",
                             envelope: bytes, now: int) -> Tuple[bytes, bytes]:
    """``(plaintext, sender)``: opens an envelope and decrypts it on ``session``, which must be
    the session with the sender."""
    p, n, _keep = _in(envelope)
    out, sender = _Bytes(), (c_uint8 * 32)()
    _call(_lib.hw_session_open_and_decrypt, account._p, session._p, trust._p, p, n, now,
          byref(out), byref(sender))
    return _take(out), bytes(sender)


def seal_multi(
    sender: Account, certificate: bytes, recipients: Iterable[bytes], message: bytes,
    sent_at: int, content_type: int = CONTENT_SESSION, expires_after_secs: int = 0,
) -> bytes:
    """Seals ``message`` once for every recipient; the relay splits it with
    :func:`multi_recipient_envelope`."""
    keys = [bytes(k) for k in recipients]
    for k in keys:
        _key(k, "recipient")
    cp, cn, _k1 = _in(certificate)
    rp, _rn, _k2 = _in(b"".join(keys))
    mp, mn, _k3 = _in(message)
    out = _Bytes()
    _call(_lib.hw_seal_multi, sender._p, cp, cn, rp, len(keys), content_type, sent_at,
          expires_after_secs, mp, mn, byref(out))
    return _take(out)


def multi_recipient_envelope(message: bytes, recipient: bytes) -> Tuple[bytes, list]:
    """``(recipient's envelope, every recipient's key)`` from a multi-recipient message."""
    p, n, _keep = _in(message)
    out, keys = _Bytes(), _Bytes()
    _call(_lib.hw_multi_recipient_envelope, p, n, _key(recipient, "recipient"), byref(out),
          byref(keys))
    return _take(out), _split32(_take(keys))
