"""Demo data for a first run: a tender opening a few minutes from now, five bidder companies, a host,
a supervisor, nine experts from three regions, a main and two sub venues. Idempotent: run it again
and nothing is duplicated; a demo tender whose opening has passed untouched is moved forward."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.credit_code import check_character
from accounts.models import Organisation, User
from audit.log import log_action
from bidding.lifecycle import Status
from bidding.models import Lot, Project
from common import clock
from common.actor import Actor
from common.roles import Role
from evaluation.models import Expert, Region, Venue

DEMO_PASSWORD = "demo-kaibiao-2026"
OPENS_IN = timedelta(minutes=5)


def credit_code(base17: str) -> str:
    return base17 + check_character(base17)


REGIONS = [("320100", "南京市"), ("320500", "苏州市"), ("320300", "徐州市")]
CENTRES = {"320100": "南京市公共资源交易中心", "320500": "苏州市公共资源交易中心",
           "320300": "徐州市公共资源交易中心"}
BIDDERS = [
    ("bidder1", "江苏宁建建设集团有限公司", "91320100MA1NJ0001"),
    ("bidder2", "苏州金鸡湖路桥工程有限公司", "91320500MA1K80002"),
    ("bidder3", "徐州淮海市政建设有限公司", "91320300MA1XH0003"),
    ("bidder4", "南通江海建工集团有限公司", "91320600MA1NT0004"),
    ("bidder5", "常州龙城交通工程有限公司", "91320400MA1CA0005"),
]
EXPERTS = [  # username, name, region, category, specialty, title
    ("expert01", "王建国", "320100", "technical", "市政道路", "高级工程师"),
    ("expert02", "李文华", "320100", "technical", "桥梁工程", "教授级高级工程师"),
    ("expert03", "张敏", "320100", "economic", "工程造价", "高级经济师"),
    ("expert04", "刘志强", "320500", "technical", "市政道路", "高级工程师"),
    ("expert05", "陈晓燕", "320500", "technical", "给排水", "高级工程师"),
    ("expert06", "杨帆", "320500", "economic", "工程造价", "注册造价工程师"),
    ("expert07", "赵磊", "320300", "technical", "市政道路", "高级工程师"),
    ("expert08", "周静", "320300", "technical", "岩土工程", "高级工程师"),
    ("expert09", "吴刚", "320300", "economic", "工程造价", "高级会计师"),
]


class Command(BaseCommand):
    help = "Load (or refresh) the demo data and print the demo sign-ins."

    def handle(self, *args, **options):
        now = clock.now()
        with transaction.atomic():
            rows = self._load(now)
        self.stdout.write(self.style.SUCCESS("Demo data ready. Sign in with (password for all: %s):"
                                             % DEMO_PASSWORD))
        for username, role, what in rows:
            self.stdout.write(f"  {username:<12} {role:<12} {what}")

    def _org(self, name, kind, code="") -> Organisation:
        org, _ = Organisation.objects.get_or_create(name=name, defaults={"kind": kind, "credit_code": code})
        return org

    def _user(self, username, role, org=None, display="", **extra) -> User:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User(username=username, role=role, organisation=org, display_name=display, **extra)
            user.set_password(DEMO_PASSWORD)
            user.full_clean()
            user.save()
        return user

    def _load(self, now):
        actor = Actor.system("load_demo")
        rows = []
        admin = self._user("admin", Role.ADMIN, display="平台管理员", is_staff=True, is_superuser=True)
        rows.append((admin.username, admin.role, "Django admin: /admin/"))
        regions = {code: Region.objects.get_or_create(code=code, defaults={"name": name})[0]
                   for code, name in REGIONS}
        centres = {code: self._org(name, Organisation.Kind.TRADING_CENTRE) for code, name in CENTRES.items()}
        supervisory = self._org("南京市住房和城乡建设局", Organisation.Kind.SUPERVISORY)
        tenderee = self._org("南京市城市建设投资控股（集团）有限责任公司", Organisation.Kind.TENDEREE,
                             credit_code("91320100134880008"))
        agency = self._org("江苏诚信工程招标代理有限公司", Organisation.Kind.AGENCY,
                           credit_code("91320100MA1AG0001"))
        host = self._user("host", Role.HOST, agency, "招标代理 · 孙经理")
        rows.append((host.username, host.role, agency.name))
        supervisor = self._user("supervisor", Role.SUPERVISOR, supervisory, "监督 · 钱科长")
        rows.append((supervisor.username, supervisor.role, supervisory.name))
        for username, name, base in BIDDERS:
            org = self._org(name, Organisation.Kind.BIDDER, credit_code(base))
            self._user(username, Role.BIDDER, org, f"{name} 投标代表")
            rows.append((username, Role.BIDDER.value, f"{name}（{org.credit_code}）"))
        for index, (code, region) in enumerate(regions.items()):
            venue, _ = Venue.objects.get_or_create(
                name=CENTRES[code] + "评标室", defaults={"region": region, "centre": centres[code]})
            staff = self._user(f"venue_{code}", Role.VENUE_STAFF, centres[code], f"{region.name}场地人员")
            venue.staff.add(staff)
            role_text = "主场" if index == 0 else "副场"
            rows.append((staff.username, staff.role, f"{venue.name}（演示中作{role_text}）"))
        for username, name, code, category, specialty, title in EXPERTS:
            user = self._user(username, Role.EXPERT, None, name)
            Expert.objects.get_or_create(user=user, defaults={
                "region": regions[code], "category": category, "specialties": [specialty], "title": title})
            rows.append((username, Role.EXPERT.value, f"{name} · {regions[code].name} · {specialty}"))
        lot = self._tender(now, tenderee, agency, host, actor)
        opens = lot.bid_deadline.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
        rows.append(("", "", f"演示标段：{lot}，开标时间（北京时间）{opens}"))
        return rows

    def _tender(self, now, tenderee, agency, host, actor) -> Lot:
        project, _ = Project.objects.get_or_create(code="NJSZ-2026-0188", defaults={
            "title": "南京市江北新区滨江大道改造工程", "tenderee": tenderee, "agency": agency,
            "created_by": host})
        opens_at = (now + OPENS_IN).replace(second=0, microsecond=0) + timedelta(minutes=1)
        lot = Lot.objects.filter(project=project, code="01").first()
        if lot is None:
            lot = Lot.objects.create(
                project=project, code="01", title="施工总承包", bid_deadline=opens_at,
                signin_opens_at=now, status=Status.PUBLISHED, published_at=now,
                description="道路、排水及附属工程施工。")
            log_action("bidding.lot.published", actor=actor, obj=lot, tender_id=lot.pk, now=now,
                       data={"bid_deadline": opens_at.isoformat(), "via": "load_demo"})
        elif lot.status == Status.PUBLISHED and lot.bid_deadline <= now + timedelta(minutes=1):
            # Only a demo tender nobody has used is moved; it is recorded like any other change.
            previous = lot.bid_deadline
            lot.bid_deadline, lot.signin_opens_at = opens_at, now
            lot.save(update_fields=["bid_deadline", "signin_opens_at"])
            log_action("bidding.lot.demo_rescheduled", actor=actor, obj=lot, tender_id=lot.pk, now=now,
                       data={"from": previous.isoformat(), "to": opens_at.isoformat()})
        return lot
