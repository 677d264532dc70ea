"""Which audit entries are alerts for the supervisors' console. Pure: a table, no ORM.

A supervisor must see at once what may need intervention: decryption failures, objections, venue
drops and locks, score deviation alerts and returns, access denials, refused (e.g. late) bids.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Alert:
    level: str  # "info" | "warning" | "critical"
    code: str
    label: str  # zh-hans, as the console shows it


# Action code prefixes, most specific first; each names actions the platform writes
# (tests/frontend/test_labels.py checks it against the source).
TABLE: list[tuple[str, Alert]] = [
    ("bidding.bid.refused", Alert("warning", "bid_refused", "投标文件被拒收")),
    ("bidding.bid.receipt_failed", Alert("warning", "receipt_unsigned", "回执无法签名，投标未记录")),
    ("bidding.bid.completion_pending", Alert("warning", "completion_pending", "投标完成待签名，未作废")),
    ("bidding.bid.pending_lost", Alert("critical", "pending_lost", "待签名的投标文件在平台丢失")),
    ("bidding.opening.completion_pending", Alert("critical", "completion_pending_opening", "有投标待平台签名完成，开标暂缓")),
    ("bidding.opening.decryption_failed", Alert("warning", "decryption_failed", "解密失败")),
    ("bidding.opening.bid_revoked", Alert("warning", "bid_revoked", "投标被视为撤销")),
    ("bidding.opening.bid_withdrawn", Alert("warning", "bid_withdrawn", "投标被视为撤回")),
    ("bidding.opening.objection", Alert("warning", "objection", "开标异议")),
    ("bidding.opening.pause", Alert("warning", "opening_paused", "开标暂停")),
    ("bidding.opening.failed", Alert("critical", "tender_failed", "流标")),
    ("bidding.escrow.recovery", Alert("warning", "backup_decryption", "备用解密")),
    ("award.objection.overdue", Alert("warning", "objection_overdue", "异议逾期未答复，定标暂停")),
    # A venue down locks the whole session (evaluation.actions_venues): the lock is this entry.
    ("evaluation.venue.down", Alert("critical", "venue_dropped", "场地掉线")),
    ("evaluation.score.returned", Alert("warning", "score_returned", "评分退回修正")),
    ("evaluation.back", Alert("warning", "step_back", "评标步骤回退")),  # asked for, approved, refused
    ("audit.integrity.failed", Alert("critical", "audit_integrity", "审计日志校验发现篡改迹象")),
    ("audit.witness.quorum_missed", Alert("critical", "witness_quorum", "检查点缺少见证方联署")),
    ("realtime.clock.unsynchronised", Alert("critical", "clock_unsynchronised", "服务器时钟未同步，截止时间暂停执行")),
    ("realtime.signing.unavailable", Alert("critical", "signing_unavailable", "平台签名密钥（密码机）不可用，签名暂停")),
    ("accounts.access.denied", Alert("warning", "access_denied", "越权访问被拒")),
    ("accounts.session.sign_in_failed", Alert("info", "sign_in_failed", "登录失败")),
]
# Verbs that are alerts wherever they appear (a capability added later is covered by default).
ALERT_VERBS = {"failed": "warning", "refused": "warning", "denied": "warning", "locked": "critical"}


def classify(action: str) -> Alert | None:
    for prefix, alert in TABLE:
        if action == prefix or action.startswith(prefix + ".") or action.startswith(prefix + "_"):
            return alert
    verb = action.rsplit(".", 1)[-1]
    for word, level in ALERT_VERBS.items():
        if verb.endswith(word):
            return Alert(level, verb, action)
    return None
