"""huawei's 表6 (result codes with handling advice) as data: the error table of
`vendors.huawei.HuaweiClient`.

A data module, kept apart so the client module stays readable: every row is
(exception class, English gloss, the document's advice, the document's text).
A key "<http status>/<code>" is used only for 1010010, which the document
reuses under several HTTP statuses.
"""

from __future__ import annotations

from .base import ErrorRow
from .errors import (
    AuthError,
    InvalidRequest,
    PermissionDenied,
    RateLimited,
    TemporaryError,
    VendorError,
)

__all__ = ["ERRORS"]


def _row(cls: type[VendorError], en: str, zh: str, advice: str) -> ErrorRow:
    return (cls, en, advice, zh)


_AUTH_HEADER_ADVICE = "请检查Authorization字段中的是否携带了{}属性。"

# 表6, every row: "<http>/<code>" only for the reused 1010010.
ERRORS: dict[str, ErrorRow] = {
    # ---- 400: malformed Authorization / X-AKSK: our signing code is wrong.
    "1023006": _row(
        AuthError,
        "Authorization not contained in the HTTP header.",
        "鉴权失败,请检查鉴权请求正确性。",
        "请检查消息头中是否携带了Authorization,PasswordDigest字段填写是否正确,携带的app_key"
        "填写是否正确,且生成随机数的时间与发送请求时的本地时间不能相差太大。",
    ),
    "1023007": _row(
        AuthError,
        "realm not contained in Authorization.",
        "Authorization字段中未找到realm属性。",
        _AUTH_HEADER_ADVICE.format("realm"),
    ),
    "1023008": _row(
        AuthError,
        "profile not contained in Authorization.",
        "Authorization字段中未找到profile属性。",
        _AUTH_HEADER_ADVICE.format("profile"),
    ),
    "1023009": _row(
        AuthError,
        "The value of realm in Authorization must be SDP.",
        "Authorization中realm属性值应该为“SDP”。",
        "请检查Authorization字段中的realm属性值是否为“SDP”。",
    ),
    "1023010": _row(
        AuthError,
        "The value of profile in Authorization must be UsernameToken.",
        "Authorization中profile属性值应该为“UsernameToken”。",
        "请检查Authorization字段中的profile属性值是否为“UsernameToken”。",
    ),
    "1023011": _row(
        AuthError,
        "The value of type in Authorization must be app_key.",
        "Authorization中type属性值应该为“Appkey”。",
        "请检查Authorization字段中的type属性值是否为“Appkey”。",
    ),
    "1023012": _row(
        AuthError,
        "type not contained in Authorization.",
        "Authorization字段中未找到type属性。",
        "请检查Authorization字段中是否携带了type属性。",
    ),
    "1023033": _row(
        AuthError,
        "HTTP header not found X-AKSK field.",
        "HTTP头未找到X-AKSK字段。",
        "请检查HTTP消息头中是否携带了X-AKSK字段。",
    ),
    "1023034": _row(
        AuthError,
        "UserName not contained in X-AKSK.",
        "X-AKSK字段中未找到UserName属性。",
        "请检查X-AKSK字段中的是否携带了Username属性。",
    ),
    "1023035": _row(
        AuthError,
        "Nonce not contained in X-AKSK.",
        "X-AKSK字段中未找到Nonce属性。",
        "请检查X-AKSK字段中的是否携带了Nonce属性。",
    ),
    "1023036": _row(
        AuthError,
        "Created not contained in X-AKSK.",
        "X-AKSK字段中未找到Created属性。",
        "请检查X-AKSK字段中的是否携带了Created属性。",
    ),
    "1023037": _row(
        AuthError,
        "PasswordDigest not contained in X-AKSK.",
        "X-AKSK字段中未找到PasswordDigest属性。",
        "请检查X-AKSK字段中的是否携带了PasswordDigest属性。",
    ),
    "1023038": _row(
        AuthError,
        "UsernameToken not contained in X-AKSK.",
        "X-AKSK中没有携带UsernameToken。",
        "请检查X-AKSK字段中的是否携带了UsernameToken属性。",
    ),
    # ---- 401
    "401/1010010": _row(
        AuthError,
        "Invalid digest.",
        "PasswordDigest校验失败。",
        "请检查PasswordDigest字段填写是否正确。",
    ),
    "1010013": _row(
        AuthError,  # our clock is off: a retry signs with the same wrong clock
        "Time out limit.",
        "时间超出限制。",
        "请确认X-AKSK鉴权时,生成随机数的时间与发送请求时的本地时间不能相差太大"
        "(具体差值请与管理员确认)",
    ),
    # ---- 403
    "1010002": _row(
        InvalidRequest,
        "Invalid request.",
        "非法请求。",
        "检查请求携带的参数格式是否都合法。",
    ),
    "1010003": _row(
        AuthError,
        "Invalid app_key.",
        "无效的app_key。",
        "检查请求携带的app_key是否填写正确,app_key从应用管理页面获取,若填写正确,"
        "请在应用管理页面检查请求携带的app_key所属应用状态是否正常。",
    ),
    "1010006": _row(
        InvalidRequest,
        "Invalid Rest API.",
        "无效的Rest API。",
        "检查请求方法填写是否正确。",
    ),
    "1010008": _row(
        PermissionDenied,
        "The status of the app_key is unavailable.",
        "app_key被暂停使用。",
        "请在应用管理页面检查请求携带的app_key所属应用状态是否正常。",
    ),
    "1010009": _row(
        RateLimited,
        "No more APIs can be invoked.",
        "API达到调用上限。",
        "请稍等一分钟后再试,并联系管理员申请更高的应用使用配额。",
    ),
    "403/1010010": _row(
        RateLimited,
        "The flow control upper limit is reached on the platform.",
        "平台达到系统流控上限。",
        "请稍等一分钟后再试。",
    ),
    "1010010": _row(
        RateLimited,  # bare code, unknown status: read as flow control (see docstring)
        "The flow control upper limit is reached on the platform.",
        "平台达到系统流控上限。",
        "请稍等一分钟后再试。",
    ),
    "1010011": _row(
        PermissionDenied,
        "The app is not allowed to access a commercial address.",
        "APP没有访问商用地址的权限。",
        "请在应用管理页面检查请求携带的app_key所属应用状态是否正常。",
    ),
    "1010021": _row(
        PermissionDenied,
        "Application unavailable.",
        "应用不可用。",
        "请在应用管理页面检查请求携带的app_key所属应用状态是否正常。",
    ),
    "1010023": _row(
        InvalidRequest,
        "Invalid display number.",
        "号显号码不合法。",
        "检查displayNbr和displayCalleeNbr参数的填写是否合法,与号码管理页面的“固话号码”保持一致。"
        "若合法,请确认该号码是否已申请并下发。申请号码在号码订购页面申请,号码下发后可在号码管理页面查看。",
    ),
    "1010024": _row(
        InvalidRequest,
        "Invalid caller number.",
        "主叫号码不合法。",
        "检查callerNbr参数的填写是否合法。",
    ),
    "1010040": _row(
        PermissionDenied,
        "The app_key is not allowed to invoke the API.",
        "app_key没有调用本API的权限。",
        "请联系管理员确认该app_key对应的应用是否具语音验证码能力。",
    ),
    "1012001": _row(
        InvalidRequest,
        "Resource of number is not to be applied.",
        "资源未申请。",
        "app_key和业务号码未绑定。",
    ),
    "1012006": _row(
        InvalidRequest,
        "The service number is not applied.",
        "业务号码未申请。",
        "请确认是否申请业务号码。",
    ),
    "1012012": _row(
        PermissionDenied,
        "Application does not open recording function.",
        "应用未开启录音功能。",
        "请在应用管理页面确认请求携带的app_key是否开启了录音功能。",
    ),
    "1013001": _row(
        PermissionDenied,  # a configured quota, not a momentary rate: no quick retry
        "Calls exceed the SP limit.",
        "请求次数超过SP配置上限。",
        "请和管理员确认开发者呼叫数量限制。",
    ),
    "1013002": _row(
        PermissionDenied,
        "Calls exceed the APP limit.",
        "请求次数超过应用配置上限。",
        "请和管理员确认应用呼叫数量限制。",
    ),
    "1013003": _row(
        PermissionDenied,
        "Calls exceed the display number limit.",
        "SP的主显号码受限。",
        "请和管理员确认显示号码呼叫数量限制。",
    ),
    "1013004": _row(
        PermissionDenied,
        "Callee in blacklist.",
        "被叫用户是黑名单。",
        "被叫号码在运营商黑名单库。",
    ),
    "1013010": _row(
        PermissionDenied,
        "Caller in blacklist.",
        "主叫用户是黑名单。",
        "主叫号码在运营商黑名单库。",
    ),
    "1013011": _row(
        PermissionDenied,
        "Callee is not on the whitelist.",
        "被叫用户不在白名单中。",
        "请和管理员确认被叫号码白名单限制。",
    ),
    "1013100": _row(
        PermissionDenied,  # "unknown error" of the security-control family
        "Common error code .",
        "未知错误。",
        "请和管理员确认安全管控限制。",
    ),
    "1013101": _row(
        PermissionDenied,
        "Abnormal call restricted .",
        "呼叫行为异常。",
        "请和管理员确认安全管控限制。",
    ),
    "1013111": _row(
        PermissionDenied,
        "International callin is forbidden.",
        "国际呼入限制。",
        "请检查请求的号码格式是否为国际号码格式。",
    ),
    "1013112": _row(
        PermissionDenied,
        "International callout is forbidden.",
        "国际呼出限制。",
        "请检查请求的号码格式是否为国际号码格式。",
    ),
    "1013113": _row(
        PermissionDenied,
        "Abnormal call duration restricted.",
        "通话时间异常。",
        "请检查请求的号码是否通话时间异常。",
    ),
    "1013115": _row(
        PermissionDenied,
        "Abnormal call completion rate restricted.",
        "呼叫接通率异常。",
        "请检查请求的号码是否呼叫接通率异常。",
    ),
    "1013116": _row(
        PermissionDenied,  # per-number frequency caps outlast any backoff
        "Caller call frequency restricted.",
        "主叫呼叫频次限制。",
        "请检查主叫号码是否有呼叫频次限制。",
    ),
    "1013117": _row(
        PermissionDenied,
        "Callee call frequency restricted.",
        "被叫呼叫频次限制。",
        "请检查被叫号码是否有呼叫频次限制。",
    ),
    "1013118": _row(
        PermissionDenied,
        "Service number call frequency restricted.",
        "业务号码呼叫频次限制。",
        "请检查业务号码是否有呼叫频次限制。",
    ),
    "1013119": _row(
        PermissionDenied,
        "Service number suspend.",
        "业务号码被暂停。",
        "请和管理员确认号码状态。",
    ),
    "1013120": _row(
        InvalidRequest,
        "Ip address is null.",
        "IPv4地址未携带。",
        "请客户接口携带请求发送方IPv4地址。",
    ),
    "1013121": _row(
        PermissionDenied,
        "Call black time forbidden.",
        "呼叫时段限制。",
        "呼叫时段为休息时段,请工作时段再呼叫。",
    ),
    "1013122": _row(
        PermissionDenied,
        "Sub enterprise is suspended.",
        "子企业已被暂停。",
        "查看是否因投诉被下线,可查看订购号码时填写的邮箱是否有业务下线通知邮件。",
    ),
    "1020165": _row(
        RateLimited,
        "The number of app_key voice call ports exceeds the upper limit.",
        "超出语音呼叫端口数限制。",
        "请稍等一分钟后再试。建议联系管理员为该应用申请更多的端口配额。",
    ),
    "1020166": _row(
        PermissionDenied,
        "The app client ip is not in ip white list.",
        "请求发送方app IP不在白名单列表中。",
        "运营商IP地域管控,此地区无法呼通。",
    ),
    "1020168": _row(
        PermissionDenied,
        "The call is rejected because the login IP of the peer app is blacklisted .",
        "请求发送方app登录IP是黑名单。",
        "运营商IP地域管控,此地区无法呼通。",
    ),
    "1020171": _row(
        PermissionDenied,
        "The call is rejected because the login IP of the peer app is blacklisted area.",
        "请求发送方app登录IP在受限地域。",
        "运营商IP地域管控,此地区无法呼通。",
    ),
    "1020176": _row(
        AuthError,  # "try again later" means 30 minutes: far beyond our backoff
        "Authentication failed, try again later",
        "鉴权失败,稍后重试。",
        "IP因鉴权失败次数过多导致被拉黑,请30分钟后重试,或联系管理员放通该IP。",
    ),
    # ---- 500
    "1010001": _row(
        VendorError,  # "contact the admin"; not retried (no idempotency key)
        "Internal system error.",
        "系统错误。",
        "请联系管理员处理。",
    ),
    "1020001": _row(
        InvalidRequest,
        "Parameter error.",
        "参数错误。",
        "检查请求携带的参数格式是否都合法。",
    ),
    "1020002": _row(
        VendorError,
        "Internal error.",
        "内部错误。",
        "请联系管理员处理。",
    ),
    "1020150": _row(
        AuthError,
        "The app_key is invalid.",
        "app_key无效。",
        "检查请求携带的app_key是否填写正确,app_key从应用管理页面获取,若填写正确,"
        "请在应用管理页面检查请求携带的app_key所属应用状态是否正常。",
    ),
    "1020151": _row(
        InvalidRequest,
        "The bindNum is invalid.",
        "业务号码无效。",
        "业务号码无效,请联系管理员处理。",
    ),
    "1020154": _row(
        TemporaryError,
        "Insufficient voice ports.",
        "语音端口不足。",
        "请稍等一分钟后再试,并联系管理员申请扩容语音端口。",
    ),
    "1023001": _row(
        VendorError,
        "Internal error.",
        "内部错误。",
        "请联系管理员处理。",
    ),
    "1023002": _row(
        TemporaryError,
        "Response timeout.",
        "响应超时。",
        "重新发送一次请求。",
    ),
}
