"""The 国密 primitives against the standards' own examples and against OpenSSL 3, in both directions.

Vectors: SM3 from GB/T 32905-2016 Appendix A; SM4 from GB/T 32907-2016 Appendix A (one block, and the
1,000,000-fold encryption); SM4-GCM from RFC 8998 Appendix A.1; SM2 from GB/T 32918.5-2017 (the
recommended curve's examples: key pair d / P, the signature of "message digest" with the default
user ID, the ciphertext of "encryption standard" with k fixed). The library draws k itself, so the
SM2 examples are checked the way a fixed k is not needed: the standard's signature verifies and
its ciphertext decrypts, and each altered byte fails.
"""

from __future__ import annotations

import subprocess

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from crypto import gm
from tests.conftest import need_tool

# GB/T 32918.5-2017 (= GM/T 0003.5-2012), recommended curve.
D = bytes.fromhex("3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8")
P = bytes.fromhex("04" "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
                  "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13")
SIG_R = "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3"
SIG_S = "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA"
# "encryption standard" under P with k = 59276E27...BC21, as the GM/T 0009 DER OpenSSL's tests use.
CIPHERTEXT_DER = bytes.fromhex(
    "307C022004EBFC718E8D1798620432268E77FEB6415E2EDE0E073C0F4F640ECD2E149A73022100E858F9D81E5430"
    "A57B36DAAB8F950A3C64E6EE6A63094D99283AFF767E124DF0042059983C18F809E262923C53AEC295D30383B54E"
    "39D609D160AFCB1908D0BD8766041321886CA989CA9C7D58087307CA93092D651EFA")
STANDARD_KEY = gm.SM2PrivateKey(D, gm.SM2PublicKey(P))


def test_sm3_gb_t_32905_examples():
    assert gm.sm3(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    assert gm.sm3(b"abcd" * 16).hex() == "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
    hasher = gm.sm3_hasher()
    for part in (b"ab", b"c"):
        hasher.update(part)
    assert hasher.finalize() == gm.sm3(b"abc")


SM4_KEY = bytes.fromhex("0123456789abcdeffedcba9876543210")


def _sm4_ecb():
    return Cipher(algorithms.SM4(SM4_KEY), modes.ECB()).encryptor()


def test_sm4_gb_t_32907_one_block():
    assert _sm4_ecb().update(SM4_KEY).hex() == "681edf34d206965e86b3e94f536e4246"


@pytest.mark.slow
def test_sm4_gb_t_32907_one_million_encryptions():
    enc, block = _sm4_ecb(), SM4_KEY
    for _ in range(1_000_000):
        block = enc.update(block)
    assert block.hex() == "595298c7c6fd271f0402f804c33d3f66"


def test_sm4_gcm_rfc_8998_vector_and_tampering():
    nonce = bytes.fromhex("00001234567800000000ABCD")
    aad = bytes.fromhex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2")
    plaintext = bytes.fromhex("AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD"
                              "EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA")
    expected = bytes.fromhex("17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
                             "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D"
                             "83DE3541E4C2B58177E065A9BF7B62EC")
    aead = gm.SM4GCM(SM4_KEY)
    assert aead.encrypt(nonce, plaintext, aad) == expected
    assert aead.decrypt(nonce, expected, aad) == plaintext
    from cryptography.exceptions import InvalidTag
    for i in (0, 63, 64, 79):
        damaged = bytearray(expected)
        damaged[i] ^= 1
        with pytest.raises(InvalidTag):
            aead.decrypt(nonce, bytes(damaged), aad)
    with pytest.raises(InvalidTag):
        aead.decrypt(nonce, expected, aad + b"x")


def test_sm2_gb_t_32918_5_signature_verifies_and_alterations_fail():
    signature = bytes.fromhex(SIG_R + SIG_S)
    gm.sm2_verify(STANDARD_KEY.public, signature, b"message digest")
    gm.sm2_verify(STANDARD_KEY.public, gm.signature_to_der(signature), b"message digest")
    for bad_message in (b"message digest.", b"Message digest"):
        with pytest.raises(gm.SM2Error):
            gm.sm2_verify(STANDARD_KEY.public, signature, bad_message)
    with pytest.raises(gm.SM2Error):  # another user ID means another Z_A
        gm.sm2_verify(STANDARD_KEY.public, signature, b"message digest", user_id=b"ALICE123@YAHOO.COM")
    for i in (0, 31, 32, 63):
        damaged = bytearray(signature)
        damaged[i] ^= 1
        with pytest.raises(gm.SM2Error):
            gm.sm2_verify(STANDARD_KEY.public, bytes(damaged), b"message digest")


def test_sm2_gb_t_32918_5_key_pair_signs_with_a_random_k():
    gm.check_pair(STANDARD_KEY)  # d signs, P verifies: the example's d and P belong together
    wrong = gm.SM2PrivateKey(D[:-1] + bytes([D[-1] ^ 1]), STANDARD_KEY.public)
    with pytest.raises(gm.SM2Error):
        gm.check_pair(wrong)


def test_sm2_gb_t_32918_5_ciphertext_decrypts_in_c1c3c2_order():
    raw = gm.c1c3c2_from_der(CIPHERTEXT_DER)
    assert raw[:33].hex().upper() == "04" "04EBFC718E8D1798620432268E77FEB6415E2EDE0E073C0F4F640ECD2E149A73"
    assert raw[65:97].hex().upper() == "59983C18F809E262923C53AEC295D30383B54E39D609D160AFCB1908D0BD8766"
    assert gm.c1c3c2_to_der(raw) == CIPHERTEXT_DER
    assert gm.sm2_decrypt(STANDARD_KEY, raw) == b"encryption standard"
    for i in (1, 40, 70, len(raw) - 1):  # C1 (off the curve or another point), C3, C2
        damaged = bytearray(raw)
        damaged[i] ^= 1
        with pytest.raises(gm.SM2Error):
            gm.sm2_decrypt(STANDARD_KEY, bytes(damaged))


def test_sm2_ciphertext_der_must_be_canonical():
    for bad in (CIPHERTEXT_DER + b"\x00", CIPHERTEXT_DER[:-1], b"\x30\x00", b""):
        with pytest.raises(gm.SM2Error):
            gm.c1c3c2_from_der(bad)


def test_sm2_keys_are_checked():
    with pytest.raises(gm.SM2Error):
        gm.SM2PublicKey(P[:-1] + bytes([P[-1] ^ 1]))  # off the curve
    with pytest.raises(gm.SM2Error):
        gm.SM2PublicKey(P[1:])
    with pytest.raises(gm.SM2Error):
        gm.SM2PrivateKey(b"\x00" * 32, STANDARD_KEY.public)
    assert STANDARD_KEY.key_id == gm.sm3(P)[:8].hex()


# --- interop with OpenSSL 3 (an independent SM2 implementation) ------------------------------------

SM2_OID_DER = bytes.fromhex("06082a811ccf5501822d")  # 1.2.156.10197.1.301, the SM2 curve


def _openssl(*args, stdin: bytes | None = None) -> bytes:
    result = subprocess.run([need_tool("openssl"), *args], input=stdin, capture_output=True, timeout=30)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stdout


def _openssl_key(tmp_path) -> tuple[gm.SM2PrivateKey, str, str]:
    """A key pair made by OpenSSL, read into the library's form; (key, private PEM, public PEM)."""
    private_pem = tmp_path / "sm2.pem"
    public_pem = tmp_path / "sm2.pub.pem"
    _openssl("genpkey", "-algorithm", "SM2", "-out", str(private_pem))
    _openssl("pkey", "-in", str(private_pem), "-pubout", "-out", str(public_pem))
    der = _openssl("pkey", "-in", str(private_pem), "-outform", "DER", "-traditional")
    # SEC1 ECPrivateKey: 30 77 02 01 01 04 20 <d> a0 0a <oid> a1 44 03 42 00 <point>
    assert der[:7] == bytes.fromhex("30770201010420") and SM2_OID_DER in der
    scalar, point = der[7:39], der[-65:]
    return gm.SM2PrivateKey(scalar, gm.SM2PublicKey(point)), str(private_pem), str(public_pem)


def _public_pem(tmp_path, key: gm.SM2PublicKey) -> str:
    """SubjectPublicKeyInfo of an SM2 point (id-ecPublicKey, curve SM2), for OpenSSL."""
    spki = bytes.fromhex("3059301306072a8648ce3d0201") + SM2_OID_DER + bytes.fromhex("034200") + key.point
    path = tmp_path / "ours.pub.der"
    path.write_bytes(spki)
    return str(path)


def test_openssl_decrypts_what_we_encrypt_and_we_decrypt_what_it_encrypts(tmp_path):
    key, private_pem, public_pem = _openssl_key(tmp_path)
    secret = bytes(range(64))
    ours = tmp_path / "ours.ct"
    ours.write_bytes(gm.c1c3c2_to_der(gm.sm2_encrypt(key.public, secret)))
    assert _openssl("pkeyutl", "-decrypt", "-inkey", private_pem, "-in", str(ours)) == secret
    theirs = _openssl("pkeyutl", "-encrypt", "-pubin", "-inkey", public_pem, stdin=secret)
    assert gm.sm2_decrypt(key, gm.c1c3c2_from_der(theirs)) == secret


def test_openssl_encrypts_to_our_own_key(tmp_path):
    key = gm.generate_sm2_key()
    theirs = _openssl("pkeyutl", "-encrypt", "-pubin", "-keyform", "DER",
                      "-inkey", _public_pem(tmp_path, key.public), stdin=b"k" * 32)
    assert gm.sm2_decrypt(key, gm.c1c3c2_from_der(theirs)) == b"k" * 32


def test_sm2_signatures_interoperate_with_openssl_both_ways(tmp_path):
    key, private_pem, public_pem = _openssl_key(tmp_path)
    message = "招标文件 tender-receipt".encode()
    msg = tmp_path / "m"
    msg.write_bytes(message)
    distid = "distid:" + gm.DEFAULT_USER_ID.decode()
    theirs = _openssl("pkeyutl", "-sign", "-inkey", private_pem, "-rawin", "-digest", "sm3",
                      "-pkeyopt", distid, "-in", str(msg))
    gm.sm2_verify(key.public, theirs, message)
    with pytest.raises(gm.SM2Error):
        gm.sm2_verify(key.public, theirs, message + b"!")
    sig = tmp_path / "ours.sig"
    sig.write_bytes(gm.signature_to_der(gm.sm2_sign(key, message)))
    out = _openssl("pkeyutl", "-verify", "-pubin", "-inkey", public_pem, "-rawin", "-digest", "sm3",
                   "-pkeyopt", distid, "-in", str(msg), "-sigfile", str(sig))
    assert b"Signature Verified Successfully" in out
    msg.write_bytes(message + b"!")
    result = subprocess.run([need_tool("openssl"), "pkeyutl", "-verify", "-pubin", "-inkey", public_pem,
                             "-rawin", "-digest", "sm3", "-pkeyopt", distid, "-in", str(msg),
                             "-sigfile", str(sig)], capture_output=True, timeout=30)
    assert result.returncode != 0


def test_sm3_and_sm4_agree_with_openssl(tmp_path):
    data = bytes(range(256)) * 5
    assert _openssl("dgst", "-sm3", "-binary", stdin=data) == gm.sm3(data)
    iv = bytes(16)
    ours = Cipher(algorithms.SM4(SM4_KEY), modes.CTR(iv)).encryptor().update(data)
    assert _openssl("enc", "-sm4-ctr", "-K", SM4_KEY.hex(), "-iv", iv.hex(), stdin=data) == ours


def test_a_bidders_signature_is_checked_by_its_keys_suite():
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    from crypto import keys

    message = b"tender-opening-record/v1 confirm " + b"ab" * 32
    sm2 = gm.generate_sm2_key()
    p256 = keys.generate_bidder_key()
    p256_point = keys.public_key_to_bytes(p256.public_key())
    assert gm.verify_bidder_signature(sm2.public.point, gm.sm2_sign(sm2, message), message)
    assert gm.verify_bidder_signature(p256_point, p256.sign(message, ec.ECDSA(hashes.SHA256())), message)
    assert not gm.verify_bidder_signature(sm2.public.point, gm.sm2_sign(sm2, message), message + b"x")
    assert not gm.verify_bidder_signature(p256_point, gm.sm2_sign(sm2, message), message)
    assert not gm.verify_bidder_signature(sm2.public.point, p256.sign(message, ec.ECDSA(hashes.SHA256())), message)
    assert not gm.verify_bidder_signature(b"\x04" + b"\x00" * 64, b"\x00" * 64, message)
