"""Every model of the tracker, imported here so relationships resolve and Alembic sees every table."""
from tracker.db import Base
from tracker.models.audit import AuditEntry
from tracker.models.change_feed import FeedChange
from tracker.models.content_version import ContentVersion
from tracker.models.data_import import DataImport
from tracker.models.document import Document, DocumentPassage, StoredFile, StoredFileChunk
from tracker.models.event import Event, EventOrganisation, EventTopic, ForumLink
from tracker.models.key_alias import RecordKeyAlias
from tracker.models.mail import StaffMail
from tracker.models.notification import Delivery, DeliveryAttempt, NotificationEvent, Subscription, WebhookEndpoint
from tracker.models.policy import Policy, PolicyBody, PolicyRelation, PolicyTopic, PolicyVehicleClass, StatusChange
from tracker.models.proposal import ChangeProposal
from tracker.models.reference import Jurisdiction, Organisation, Topic
from tracker.models.release import Release, ReleaseFile, ReleaseSchedule
from tracker.models.request_count import RequestCount
from tracker.models.search_log import SearchChange  # noqa: F401
from tracker.models.search_replica import SearchLogPrune, SearchReplica
from tracker.models.source import Source
from tracker.models.subscription_log import ManageLinkRequest, SubscriptionChange
from tracker.models.target import PolicyTarget
from tracker.models.types import PartialDate
from tracker.models.user import ApiToken, LoginThrottle, User
from tracker.models.worker_heartbeat import WorkerHeartbeat

__all__ = [
    "DataImport", "FeedChange",
    "ApiToken", "AuditEntry", "Document", "DocumentPassage", "StoredFile", "StoredFileChunk",
    "Base", "ChangeProposal", "StaffMail", "ContentVersion", "LoginThrottle", "User",
    "Event", "EventOrganisation", "EventTopic", "ForumLink", "Jurisdiction", "Organisation",
    "PartialDate", "Policy", "PolicyBody", "PolicyRelation", "PolicyTopic", "PolicyVehicleClass", "RecordKeyAlias",
    "PolicyTarget", "Release", "ReleaseFile", "ReleaseSchedule", "RequestCount",
    "Source", "StatusChange", "Topic", "Delivery", "DeliveryAttempt", "NotificationEvent", "Subscription",
    "WebhookEndpoint", "ManageLinkRequest", "SubscriptionChange", "SearchLogPrune", "SearchReplica",
    "WorkerHeartbeat",
]
